# Generates, at build time, the two name tables of the policy language from the
# build host's headers (like minijail's gen_constants.sh, written anew):
#
#   constants: every object-like #define of an upper-case name in the headers
#              listed in constants.headers whose value is an integer constant
#              expression (PROT_EXEC, TCGETS2, SIOCGIFADDR, DMA_BUF_IOCTL_SYNC...);
#   syscalls:  every __NR_name of the native <asm/unistd.h> (mseal, listmount,
#              open_tree_attr... when the headers have them).
#
# How: one preprocessor pass (CC -E -dM) per group of headers collects the
# names; then a generated C program that includes the same headers is
# compiled, with each name evaluated by the compiler in a static table, and
# run to print name and value. Names whose value does not compile as an
# integer constant (a string, a pointer, a call, a struct the headers do not
# define) are found from the compiler's errors and dropped, round by round;
# _Generic keeps pointers and other non-integers out. The result is two sorted
# C tables of literal values, so the library itself needs no kernel headers.
#
#   cmake -DCC=<compiler> -DCC_ID=<GNU|Clang> -DHEADERS=<constants.headers>
#         -DOUT_DIR=<dir> -DWORK=<scratch dir> -P gen_tables.cmake
cmake_minimum_required(VERSION 3.20)

foreach(v CC CC_ID HEADERS OUT_DIR WORK)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "gen_tables.cmake: -D${v}= is missing")
  endif()
endforeach()
file(MAKE_DIRECTORY "${WORK}" "${OUT_DIR}")

if(CC_ID MATCHES "Clang")
  set(errlimit -ferror-limit=0)
else()
  set(errlimit -fmax-errors=0)
endif()

# Names never taken from the headers: glibc computes these at run time
# (SIGRTMIN is 34 for a program, 32 in the kernel's header).
set(excluded SIGRTMIN SIGRTMAX)

set(prelude "#define _GNU_SOURCE\n#include <stddef.h>\n#include <stdint.h>\n")

function(include_block out)
  set(text "")
  foreach(h ${ARGN})
    string(APPEND text "#if __has_include(<${h}>)\n#include <${h}>\n#endif\n")
  endforeach()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# Sets ${out} to TRUE when the prelude plus these headers compile as C.
function(headers_compile out)
  include_block(block ${ARGN})
  file(WRITE "${WORK}/try.c" "${prelude}${block}")
  execute_process(COMMAND ${CC} -fsyntax-only -w "${WORK}/try.c"
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(rc EQUAL 0)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

# Evaluates the names (a list) with the headers; sets ${out} to a list of
# "NAME=0xVALUE" items, in the order of the input.
function(evaluate out tu_headers names)
  include_block(block ${tu_headers})
  # One declaration per line, so that a name that does not compile (a braced
  # initialiser, a comma, a missing struct) spoils its own line only.
  set(head "${prelude}${block}#include <stdio.h>
#define BX_IS_INT(x) _Generic((x), _Bool: 1, char: 1, signed char: 1, unsigned char: 1, \\
	short: 1, unsigned short: 1, int: 1, unsigned int: 1, long: 1, unsigned long: 1, \\
	long long: 1, unsigned long long: 1, default: 0)
#define BX_VALUE(x) ((unsigned long long)_Generic((x), _Bool: (x), char: (x), \\
	signed char: (x), unsigned char: (x), short: (x), unsigned short: (x), int: (x), \\
	unsigned int: (x), long: (x), unsigned long: (x), long long: (x), \\
	unsigned long long: (x), default: 0))
")
  string(REGEX MATCHALL "\n" nl "${head}")
  list(LENGTH nl first_line) # entries start on line first_line + 1
  math(EXPR first_line "${first_line} + 1")
  foreach(round RANGE 1 16)
    list(LENGTH names count)
    if(count EQUAL 0)
      set(${out} "" PARENT_SCOPE)
      return()
    endif()
    set(body "")
    set(tail "int main(void)\n{\n")
    set(i 0)
    foreach(n ${names})
      string(APPEND body "static const unsigned long long v${i} = BX_VALUE(${n}); "
                         "static const int k${i} = BX_IS_INT(${n});\n")
      string(APPEND tail "\tif (k${i}) printf(\"${n}=0x%llx\\n\", v${i});\n")
      math(EXPR i "${i} + 1")
    endforeach()
    string(APPEND tail "\treturn 0;\n}\n")
    file(WRITE "${WORK}/probe.c" "${head}${body}${tail}")
    execute_process(COMMAND ${CC} -w ${errlimit} -o "${WORK}/probe" "${WORK}/probe.c"
      RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE errors)
    if(rc EQUAL 0)
      break()
    endif()
    # Every entry the errors point at (directly or through a macro expansion).
    string(REGEX MATCHALL "probe\\.c:[0-9]+" hits "${errors}")
    set(bad "")
    foreach(h ${hits})
      string(REGEX REPLACE ".*:" "" line "${h}")
      math(EXPR idx "${line} - ${first_line}")
      if(idx GREATER_EQUAL 0 AND idx LESS count)
        list(GET names ${idx} name)
        list(APPEND bad ${name})
      endif()
    endforeach()
    if(NOT bad)
      message(FATAL_ERROR "gen_tables.cmake: the probe does not compile, and not because of "
                          "a name:\n${errors}")
    endif()
    list(REMOVE_DUPLICATES bad)
    list(REMOVE_ITEM names ${bad})
  endforeach()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gen_tables.cmake: the probe still fails after 16 rounds:\n${errors}")
  endif()
  execute_process(COMMAND "${WORK}/probe" RESULT_VARIABLE rc OUTPUT_VARIABLE printed)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gen_tables.cmake: the probe failed to run (${rc})")
  endif()
  string(REGEX MATCHALL "[A-Za-z0-9_]+=0x[0-9a-f]+" pairs "${printed}")
  set(${out} "${pairs}" PARENT_SCOPE)
endfunction()

# The names a translation unit #defines that match the regex.
function(defined_names out tu_headers regex)
  include_block(block ${tu_headers})
  file(WRITE "${WORK}/names.c" "${prelude}${block}")
  execute_process(COMMAND ${CC} -E -dM -w "${WORK}/names.c"
    RESULT_VARIABLE rc OUTPUT_VARIABLE defs ERROR_VARIABLE errors)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gen_tables.cmake: ${CC} -E -dM failed:\n${errors}")
  endif()
  # Object-like macros only: a function-like one has '(' right after its name.
  string(REGEX MATCHALL "#define ${regex} [^\n]+" lines "${defs}")
  set(names "")
  foreach(l ${lines})
    string(REGEX REPLACE "^#define ([^ ]+) .*" "\\1" n "${l}")
    list(APPEND names ${n})
  endforeach()
  list(REMOVE_DUPLICATES names)
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

# ---------------------------------------------------------------- groups
file(STRINGS "${HEADERS}" lines)
set(groups "")
set(current "")
foreach(l ${lines})
  string(STRIP "${l}" l)
  if(l STREQUAL "" OR l MATCHES "^#")
    continue()
  endif()
  if(l MATCHES "^\\[([a-z0-9_-]+)\\]$")
    set(current "${CMAKE_MATCH_1}")
    list(APPEND groups "${current}")
    set(group_${current} "")
    continue()
  endif()
  if(current STREQUAL "")
    message(FATAL_ERROR "gen_tables.cmake: ${HEADERS}: '${l}' before any [group]")
  endif()
  list(APPEND group_${current} "${l}")
endforeach()

# Each group as one translation unit; a header that breaks its group goes to
# the first extra unit it compiles with, or to a new one.
set(units "")
set(extra_units "")
foreach(g ${groups})
  headers_compile(ok ${group_${g}})
  if(ok)
    list(APPEND units ${g})
    set(unit_${g} ${group_${g}})
    continue()
  endif()
  message(STATUS "gen_tables: group [${g}] does not compile as a whole; sorting it out header by header")
  set(unit_${g} "")
  foreach(h ${group_${g}})
    headers_compile(ok ${unit_${g}} ${h})
    if(ok)
      list(APPEND unit_${g} ${h})
      continue()
    endif()
    set(placed FALSE)
    foreach(x ${extra_units})
      headers_compile(ok ${unit_${x}} ${h})
      if(ok)
        list(APPEND unit_${x} ${h})
        set(placed TRUE)
        break()
      endif()
    endforeach()
    if(NOT placed)
      headers_compile(ok ${h})
      if(ok)
        list(LENGTH extra_units k)
        set(x "extra${k}")
        list(APPEND extra_units ${x})
        set(unit_${x} ${h})
        message(STATUS "gen_tables: <${h}> moved to a unit of its own")
      else()
        message(WARNING "gen_tables: <${h}> does not compile on this host; its constants are left out")
      endif()
    endif()
  endforeach()
  list(APPEND units ${g})
endforeach()
list(APPEND units ${extra_units})

# ---------------------------------------------------------------- constants
set(all_names "")
set(disagreements 0)
set(disagreed "")
foreach(u ${units})
  if(NOT unit_${u})
    continue()
  endif()
  defined_names(names "${unit_${u}}" "[A-Z][A-Z0-9_]*")
  list(REMOVE_ITEM names ${excluded})
  evaluate(pairs "${unit_${u}}" "${names}")
  foreach(p ${pairs})
    string(REPLACE "=" ";" kv "${p}")
    list(GET kv 0 n)
    list(GET kv 1 v)
    if(DEFINED const_${n})
      if(NOT const_${n} STREQUAL v)
        math(EXPR disagreements "${disagreements} + 1")
        string(APPEND disagreed " ${n} (${const_${n}} kept, [${u}] says ${v})")
      endif()
      continue() # the first group wins
    endif()
    set(const_${n} ${v})
    list(APPEND all_names ${n})
  endforeach()
endforeach()
list(SORT all_names)
list(LENGTH all_names nconst)
set(text "/* Generated by src/policy/gen_tables.cmake from src/policy/constants.headers: do not edit. */
/*
 * ${nconst} constants. Defined differently by two groups (the first group's
 * value kept): ${disagreements}:${disagreed}
 */
#include \"policy/tables.h\"

const struct bx_name_value bx_gen_constants[] = {
")
foreach(n ${all_names})
  string(APPEND text "    {\"${n}\", ${const_${n}}ULL},\n")
endforeach()
string(APPEND text "};
const size_t bx_gen_constants_count = sizeof(bx_gen_constants) / sizeof(bx_gen_constants[0]);
")
file(WRITE "${OUT_DIR}/policy_constants.c" "${text}")

# ---------------------------------------------------------------- syscalls
defined_names(names "asm/unistd.h" "__NR_[a-z0-9_]+")
evaluate(pairs "asm/unistd.h" "${names}")
set(sys_names "")
foreach(p ${pairs})
  string(REPLACE "=" ";" kv "${p}")
  list(GET kv 0 n)
  list(GET kv 1 v)
  string(REGEX REPLACE "^__NR_" "" n "${n}")
  set(sys_${n} ${v})
  list(APPEND sys_names ${n})
endforeach()
list(SORT sys_names)
list(LENGTH sys_names nsys)
if(nsys LESS 100)
  message(FATAL_ERROR "gen_tables.cmake: only ${nsys} syscalls in <asm/unistd.h>")
endif()
set(text "/* Generated by src/policy/gen_tables.cmake from <asm/unistd.h>: do not edit. */
/* ${nsys} syscalls of the native architecture. */
#include \"policy/tables.h\"

const struct bx_name_value bx_gen_syscalls[] = {
")
foreach(n ${sys_names})
  string(APPEND text "    {\"${n}\", ${sys_${n}}ULL},\n")
endforeach()
string(APPEND text "};
const size_t bx_gen_syscalls_count = sizeof(bx_gen_syscalls) / sizeof(bx_gen_syscalls[0]);
")
file(WRITE "${OUT_DIR}/policy_syscalls.c" "${text}")
message(STATUS "gen_tables: ${nconst} constants, ${nsys} syscalls")
