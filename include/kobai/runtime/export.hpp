// KOBAI_RUNTIME_API marks what the compiled runtime (libkobai-runtime, built from runtime/)
// exports: the process-wide singletons live there once, so shared libraries built with
// -fvisibility=hidden that use kobai share one driver, one NVRTC, one kernel cache, one host
// backend and one thread pool.
#pragma once

#define KOBAI_RUNTIME_API __attribute__((visibility("default")))
