# CHI_SANITIZE=address -> ASan + UBSan; CHI_SANITIZE=thread -> TSan.
# Applied globally so every object in the build (and the test binaries) agrees.
if(CHI_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(CHI_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT CHI_SANITIZE STREQUAL "")
  message(FATAL_ERROR "CHI_SANITIZE must be '', 'address' or 'thread', not '${CHI_SANITIZE}'")
endif()
