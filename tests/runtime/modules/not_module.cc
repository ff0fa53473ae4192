/**
 * @file not_module.cc
 * An ordinary shared library with none of the CHI_TASK_CC entry points:
 * ModuleManager must skip it (debug log line).
 */
extern "C" __attribute__((visibility("default"))) int chi_test_not_a_module() { return 42; }
