# Every dependency comes from a Debian bookworm package (image/packages.txt).
# A missing one stops the configure step with the package to install.
find_package(PkgConfig REQUIRED)

macro(enclave_require_pkg var module package)
  pkg_check_modules(${var} IMPORTED_TARGET ${module})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR "${module} not found: install the Debian package '${package}' (make deps)")
  endif()
endmacro()

find_package(OpenSSL 3.0 REQUIRED)
enclave_require_pkg(SODIUM libsodium libsodium-dev)
enclave_require_pkg(SQLCIPHER sqlcipher libsqlcipher-dev)
enclave_require_pkg(P11KIT p11-kit-1 libp11-kit-dev)

find_path(TL_EXPECTED_INCLUDE tl/expected.hpp)
if(NOT TL_EXPECTED_INCLUDE)
  message(FATAL_ERROR "tl/expected.hpp not found: install the Debian package 'libexpected-dev' (make deps)")
endif()
find_package(nlohmann_json 3 QUIET)
if(NOT nlohmann_json_FOUND)
  message(FATAL_ERROR "nlohmann_json not found: install the Debian package 'nlohmann-json3-dev' (make deps)")
endif()
enclave_require_pkg(LIBXML2 libxml-2.0 libxml2-dev)
find_package(Boost 1.81.0 EXACT CONFIG QUIET COMPONENTS headers)
if(NOT Boost_FOUND)
  message(FATAL_ERROR "Boost 1.81 not found: install the Debian package 'libboost1.81-dev' (make deps)")
endif()
find_package(Threads REQUIRED)

# The TS 103 120 / TS 103 280 schemas (../shared/etsi-schemas) validate every
# XML message the appliance emits or accepts. The build records where they
# are; a package (issue #9) installs them and passes its own path.
set(ENCLAVE_ETSI_SCHEMA_DIR "${PROJECT_SOURCE_DIR}/../shared/etsi-schemas" CACHE PATH
  "The ETSI TS 103 120 / TS 103 280 XSD folder (with _local_hi1_validation_wrapper.xsd)")
get_filename_component(ENCLAVE_ETSI_SCHEMA_DIR "${ENCLAVE_ETSI_SCHEMA_DIR}" ABSOLUTE)
