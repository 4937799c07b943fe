# Generates the man pages from the CLI's own --help texts (the one source;
# src/cli/args.c), with help2man. Run at build time:
#   cmake -DHELP2MAN=... -DBEAMBOX=path/to/beambox -DOUT=dir -P man.cmake
set(pages
  "beambox|--help|confined worker processes and confined programs"
  "beambox-exec|exec --help|run a program confined like a beambox worker"
  "beambox-policy|policy --help|check, show, list and learn beambox policies"
  "beambox-demo|demo --help|a tour of a confined beambox worker")
file(MAKE_DIRECTORY ${OUT})
set(see_also "")
foreach(p IN LISTS pages)
  string(REGEX MATCH "^[^|]+" n "${p}")
  string(APPEND see_also ".BR ${n} (1),\n")
endforeach()
file(WRITE ${OUT}/see-also.h2m "[SEE ALSO]\n${see_also}.BR bwrap (1).\n.PP\n"
  "Policy files: policies/README.md; the threat model: SECURITY.md.\n")
foreach(p IN LISTS pages)
  string(REPLACE "|" ";" f "${p}")
  list(GET f 0 name)
  list(GET f 1 help)
  list(GET f 2 what)
  execute_process(
    COMMAND ${HELP2MAN} --no-info --no-discard-stderr "--help-option=${help}"
            --version-option=--version "--name=${what}" --include=${OUT}/see-also.h2m
            --output=${OUT}/${name}.1.tmp ${BEAMBOX}
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "help2man failed for ${name}")
  endif()
  file(READ ${OUT}/${name}.1.tmp text)
  # help2man names every page after the program; a subcommand's page is beambox-COMMAND.
  string(TOUPPER "${name}" upper)
  string(REGEX REPLACE "\n\\.TH BEAMBOX " "\n.TH ${upper} " text "${text}")
  string(REGEX REPLACE "\n\\.SH NAME\nbeambox \\\\- " "\n.SH NAME\n${name} \\\\- " text "${text}")
  file(WRITE ${OUT}/${name}.1 "${text}")
  file(REMOVE ${OUT}/${name}.1.tmp)
endforeach()
