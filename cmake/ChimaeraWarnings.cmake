# Warnings applied to every target the project compiles (not to consumers).
add_library(chimaera_warnings INTERFACE)
target_compile_options(chimaera_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
