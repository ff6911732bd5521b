# SPDX-License-Identifier: Apache-2.0
# The Debian package (issue #9; docs/packaging.md): install() rules and CPack
# DEB. `make package` (cmake --build build --target package) writes
# build/package/enclave_<version>_<arch>.deb; tests/package inspects it.
#
# Layout: /usr/bin/{enclaved,enclavectl}, /lib/systemd/system/enclaved.service,
# /usr/share/enclave/schemas/{etsi,enclave} (found by SchemaPaths::defaults()
# relative to the program) and schemas/archive/ltap.xsd (archive::ltap_schema_file()), /usr/share/doc/enclave/*.md, an empty /etc/enclave
# (root:enclave 0750, set by postinst). /var/lib/enclave and the user enclave
# come from postinst.
include(GNUInstallDirs)
# `cpack` (ctest fixture package_build) packs what is built; `make package`
# builds everything first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

install(TARGETS enclaved enclavectl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# bookworm's place for packaged units (/lib, not /usr/lib: dpkg's aliasing).
install(FILES ${PROJECT_SOURCE_DIR}/image/systemd/enclaved.service
  DESTINATION /lib/systemd/system)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/delivery/schemas/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/enclave/schemas/enclave)
install(DIRECTORY ${ENCLAVE_ETSI_SCHEMA_DIR}/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/enclave/schemas/etsi)
install(FILES ${PROJECT_SOURCE_DIR}/archive/schemas/ltap.xsd
  DESTINATION ${CMAKE_INSTALL_DATADIR}/enclave/schemas/archive)
install(FILES
  ${PROJECT_SOURCE_DIR}/docs/packaging.md
  ${PROJECT_SOURCE_DIR}/docs/operations.md
  ${PROJECT_SOURCE_DIR}/docs/configuration.md
  ${PROJECT_SOURCE_DIR}/docs/provisioning.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
# An empty folder: the operator's enclave.toml and token.pin go here.
install(DIRECTORY DESTINATION /etc/enclave)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME enclave)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "Enclave")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Lawful-interception delivery appliance (enclaved, enclavectl)")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Enclave maintainers <enclave@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries' packages come from dpkg-shlibdeps (package dpkg-dev);
# p11-kit for the module registry token.uri may name, adduser for postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, p11-kit")
# SoftHSM2: `enclavectl init`'s default token; a real HSM needs only its module.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "softhsm2")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "opensc")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/image/debian/postinst
  ${PROJECT_SOURCE_DIR}/image/debian/prerm
  ${PROJECT_SOURCE_DIR}/image/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
