# ctest test_port_coverage_<port>: every function declared in the port headers has a
# definition in the port's sources. For port/esp32, which cannot be compiled here (no
# ESP-IDF), this is the check that it implements the whole of kiln_port.h and kiln_port_sys.h.
#   cmake -DHEADERS="a.h;b.h" -DSOURCES="x.c;y.c" -P check_port_coverage.cmake
set(declared "")
foreach(header ${HEADERS})
    file(STRINGS ${header} lines REGEX "^[a-z_0-9]+[ *]+kiln_port_[a-z_0-9]+\\(")
    foreach(line ${lines})
        string(REGEX MATCH "kiln_port_[a-z_0-9]+\\(" name "${line}")
        string(REPLACE "(" "" name "${name}")
        list(APPEND declared ${name})
    endforeach()
endforeach()
list(LENGTH declared count)
if(count LESS 5)
    message(FATAL_ERROR "found only ${count} declarations in ${HEADERS}: the pattern is out of date")
endif()
set(code "")
foreach(source ${SOURCES})
    file(READ ${source} text)
    string(APPEND code "${text}\n")
endforeach()
string(REPLACE ";" "," code "${code}") # CMake list separators out of the way
set(missing "")
foreach(name ${declared})
    # A definition: the name at the start of a declarator, its parameter list, then a body.
    if(NOT code MATCHES "[ *\n]${name}\\([^{}]*\\)[ \n]*{")
        list(APPEND missing ${name})
    endif()
endforeach()
if(missing)
    message(FATAL_ERROR "not defined in ${SOURCES}:\n  ${missing}")
endif()
message(STATUS "${count} port functions declared, all defined")
