# Consumer test: install kobai to a scratch prefix, then build and run a tiny program against it,
# once with find_package(kobai) and once with add_subdirectory.
# Run as: cmake -DKOBAI_BINARY_DIR=... -DKOBAI_SOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -P package_test.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGN}\n${output}")
  endif()
  set(last_output "${output}" PARENT_SCOPE)
endfunction()
run(${CMAKE_COMMAND} --install "${KOBAI_BINARY_DIR}" --prefix "${WORK_DIR}/prefix")
foreach(mode find_package add_subdirectory)
  run(${CMAKE_COMMAND} -S "${KOBAI_SOURCE_DIR}/tests/package" -B "${WORK_DIR}/${mode}" -G "${GENERATOR}"
      -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DKOBAI_CONSUME=${mode} -DKOBAI_SOURCE_DIR=${KOBAI_SOURCE_DIR})
  run(${CMAKE_COMMAND} --build "${WORK_DIR}/${mode}")
  run("${WORK_DIR}/${mode}/consumer")
  if(NOT last_output MATCHES "d/dx x\\^4 at 5 = 500")
    message(FATAL_ERROR "consumer (${mode}) printed: ${last_output}")
  endif()
endforeach()
