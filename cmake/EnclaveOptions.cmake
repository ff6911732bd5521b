# Compiler flags shared by every target of the project (not by imported ones).
add_library(enclave_options INTERFACE)
target_compile_options(enclave_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
  -Wnon-virtual-dtor -Wcast-align -Wformat=2 -Wimplicit-fallthrough)
if(ENCLAVE_WERROR)
  target_compile_options(enclave_options INTERFACE -Werror)
  # g++ 12 at -O3 (Release) reports -Wrestrict on std::string operator+
  # inside libstdc++ (GCC PR 105651, fixed in 13): kept as a warning there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(enclave_options INTERFACE -Wno-error=restrict)
  endif()
endif()
# Hardening flags for a security appliance.
target_compile_options(enclave_options INTERFACE -fstack-protector-strong -fstack-clash-protection)
target_compile_definitions(enclave_options INTERFACE $<$<NOT:$<CONFIG:Debug>>:_FORTIFY_SOURCE=2>)
target_link_options(enclave_options INTERFACE -Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack)

if(ENCLAVE_SANITIZE)
  target_compile_options(enclave_options INTERFACE -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(enclave_options INTERFACE -fsanitize=address,undefined)
endif()

# libFuzzer harnesses (tests/fuzz, `make fuzz-smoke`): clang only. Every
# project library gets coverage instrumentation and ASan+UBSan; the harness
# executables add -fsanitize=fuzzer (tests/fuzz/CMakeLists.txt).
if(ENCLAVE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ENCLAVE_FUZZ needs clang (CC=clang-14 CXX=clang++-14, Debian package 'clang-14')")
  endif()
  target_compile_options(enclave_options INTERFACE -O1 -fsanitize=fuzzer-no-link,address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(enclave_options INTERFACE -fsanitize=address,undefined)
endif()

# enclave_layer(NAME DEPS dep...) makes the library target for one folder:
# sources from src/*.cpp, public headers from include/. A folder whose layer
# has no sources yet becomes an INTERFACE target with the same dependencies,
# so the graph is the same before and after its first source file lands.
function(enclave_layer name)
  cmake_parse_arguments(L "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp)
  set(target enclave_${name})
  if(sources)
    add_library(${target} STATIC ${sources})
    target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${target} PUBLIC ${L_DEPS} PRIVATE enclave_options ${L_PRIVATE_DEPS})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(${target} INTERFACE ${L_DEPS})
  endif()
endfunction()
