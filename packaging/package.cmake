# The Debian package (`cpack -G DEB`, see scripts/package.sh): the sluice binary, its systemd
# unit, an example config (a conffile), the man page, the Debian copyright and changelog, and
# the maintainer scripts that make the `sluice` system user and its directories. Included by
# CMakeLists.txt only for normal builds (not sanitizer, TSan or fuzz builds). cpack packages
# what the build dir has already built: it does not build `all` first, so build `sluice`
# (or everything) before running it.

find_program(SLUICE_GZIP gzip)
if(NOT SLUICE_GZIP)
  message(STATUS "packaging: gzip not found; no Debian package")
  return()
endif()

set(SLUICE_DEB_REVISION 1)
set(SLUICE_DEB_VERSION "${PROJECT_VERSION}-${SLUICE_DEB_REVISION}")
set(SLUICE_DEB_MAINTAINER "Sluice maintainers <sluice-maintainers@example.org>"
    CACHE STRING "Maintainer field of the Debian package")
# The changelog's date: the configure time, or SOURCE_DATE_EPOCH when set (reproducible builds).
string(TIMESTAMP SLUICE_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)

set(pkg_src ${CMAKE_SOURCE_DIR}/packaging)
set(pkg_out ${CMAKE_BINARY_DIR}/packaging)
configure_file(${pkg_src}/sluice.1 ${pkg_out}/sluice.1 @ONLY)
configure_file(${pkg_src}/changelog.in ${pkg_out}/changelog.Debian @ONLY)
# gzip -9n: no name or timestamp in the header, as lintian asks (reproducible output).
foreach(f sluice.1 changelog.Debian)
  execute_process(COMMAND ${SLUICE_GZIP} -9nc ${pkg_out}/${f} OUTPUT_FILE ${pkg_out}/${f}.gz
                  RESULT_VARIABLE gzip_rc)
  if(NOT gzip_rc EQUAL 0)
    message(FATAL_ERROR "packaging: gzip ${pkg_out}/${f} failed")
  endif()
endforeach()

# Paths are those of the package (CPACK_PACKAGING_INSTALL_PREFIX is /usr for DEB).
install(TARGETS sluice RUNTIME DESTINATION bin)
# As dh_strip does: CPACK_STRIP_FILES runs a plain `strip`, which keeps .comment and .note.
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    execute_process(COMMAND \"${CMAKE_STRIP}\" --remove-section=.comment --remove-section=.note
                            \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/bin/sluice\")
  endif()")
install(FILES ${pkg_src}/lintian-overrides DESTINATION share/lintian/overrides RENAME sluice)
install(FILES ${pkg_out}/sluice.1.gz DESTINATION share/man/man1)
install(FILES ${pkg_src}/copyright ${pkg_out}/changelog.Debian.gz DESTINATION share/doc/sluice)
install(FILES ${pkg_src}/sluice.service DESTINATION /lib/systemd/system)
install(FILES ${pkg_src}/sluice.yaml DESTINATION /etc/sluice)

# Full RELRO (relro + bindnow: a read-only GOT), as Debian's hardening flags ask; costs a little
# start-up time only.
target_link_options(sluice PRIVATE LINKER:-z,relro LINKER:-z,now)

# `cpack` (and `ninja install`) must not rebuild every test and benchmark first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY TRUE)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sluice)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${SLUICE_DEB_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-hosted Application Load Balancer")
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # sluice_<version>-<revision>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE ${SLUICE_DEB_REVISION})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${SLUICE_DEB_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps: libc6, libssl3, libsystemd0, ...
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")  # postinst: adduser --system
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# The extended description (CPack puts the summary above it): lines of at most 79 characters.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Sluice gives your own machines what AWS Application Load Balancer gives people
in the cloud: the same object model (load balancers, listeners, rules, target
groups, targets), the same rule semantics, headers and error codes, HTTPS and
HTTP/2 from clients, health checks, access logs in ALB's format and
CloudWatch's metrics, configured from YAML with the elbv2 API's names or
through an elbv2-compatible API.
.
This package runs it as a systemd service (sluice.service, Type=notify; reload
re-reads /etc/sluice/sluice.yaml) under the sluice system user.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${pkg_src}/conffiles ${pkg_src}/postinst ${pkg_src}/prerm ${pkg_src}/postrm)
# Maintainer scripts 0755, conffiles 0644, whatever the source tree's modes are.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
include(CPack)
