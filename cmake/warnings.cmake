# Warnings for every target of the project, and the sanitizer build options.
# SMS_WERROR (CI: .ci/run) turns every warning into an error; the tree,
# tests included, builds without one.
option(SMS_WERROR "Treat compiler warnings as errors" OFF)
add_compile_options(-Wall -Wextra -Wno-missing-field-initializers)
if(SMS_WERROR)
  add_compile_options(-Werror)
endif()
if(SMS_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
if(SMS_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
