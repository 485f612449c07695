# Writes the man page, the bash and zsh completions and the Markdown
# reference of one binary from its hidden --generate-docs option
# (src/cli/cli_docs.h), under SHARE (BUILD_DIR/share).
#   cmake -DEXE=bin/sms-agent -DNAME=sms-agent -DSHARE=share -P cli_docs.cmake
foreach(pair "man;man/man1/${NAME}.1"
             "bash;bash-completion/completions/${NAME}"
             "zsh;zsh/vendor-completions/_${NAME}"
             "markdown;doc/${NAME}.md")
  list(GET pair 0 format)
  list(GET pair 1 file)
  get_filename_component(dir ${SHARE}/${file} DIRECTORY)
  file(MAKE_DIRECTORY ${dir})
  execute_process(COMMAND ${EXE} --generate-docs=${format}
                  OUTPUT_FILE ${SHARE}/${file}.tmp RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${EXE} --generate-docs=${format} failed: ${rc}")
  endif()
  file(RENAME ${SHARE}/${file}.tmp ${SHARE}/${file})
endforeach()
