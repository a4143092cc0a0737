# deploy/packaging/cpack.cmake: Debian packages of the two programs.
#
# Included from the top-level CMakeLists.txt after the programs' targets
# exist. `cmake --build BUILD --target package` then writes
#   BUILD/nodetask-controller_<version>_<arch>.deb
#   BUILD/nodetask-agent_<version>_<arch>.deb
# one per install component (controller, agent). Each holds the program in
# /usr/sbin, its systemd unit, a commented default config under
# /etc/nodetask (a conffile), a man page, the copyright file, changelog and
# lintian overrides, and the maintainer scripts from
# deploy/packaging/<component>/.
# Dependencies on shared libraries come from dpkg-shlibdeps (dpkg-dev).

set(NT_PKG_SRC ${CMAKE_CURRENT_LIST_DIR})
set(NT_DEPLOY_SRC ${NT_PKG_SRC}/..)
set(NT_PKG_OUT ${CMAKE_BINARY_DIR}/deploy/packaging)
set(NODETASK_PACKAGE_MAINTAINER "nodetask maintainers <nodetask@example.org>"
    CACHE STRING "Maintainer field of the Debian packages")

set(NT_PKG_COMPONENTS)
if(TARGET nodetask-controller)
  list(APPEND NT_PKG_COMPONENTS controller)
endif()
if(TARGET nodetask-agent)
  list(APPEND NT_PKG_COMPONENTS agent)
endif()

# Compressed man pages and changelog (gzip -9n, as Debian wants them).
configure_file(${NT_PKG_SRC}/changelog.in ${NT_PKG_OUT}/changelog @ONLY)
set(NT_PKG_GZ)
foreach(comp IN LISTS NT_PKG_COMPONENTS)
  set(man ${NT_PKG_SRC}/man/nodetask-${comp}.8)
  add_custom_command(
    OUTPUT ${NT_PKG_OUT}/nodetask-${comp}.8.gz
    COMMAND gzip -9n -c ${man} > ${NT_PKG_OUT}/nodetask-${comp}.8.gz
    DEPENDS ${man} VERBATIM)
  list(APPEND NT_PKG_GZ ${NT_PKG_OUT}/nodetask-${comp}.8.gz)
endforeach()
add_custom_command(
  OUTPUT ${NT_PKG_OUT}/changelog.gz
  COMMAND gzip -9n -c ${NT_PKG_OUT}/changelog > ${NT_PKG_OUT}/changelog.gz
  DEPENDS ${NT_PKG_SRC}/changelog.in VERBATIM)
list(APPEND NT_PKG_GZ ${NT_PKG_OUT}/changelog.gz)
add_custom_target(nodetask-package-docs ALL DEPENDS ${NT_PKG_GZ})

# An empty directory to install as the agent's state directory.
file(MAKE_DIRECTORY ${NT_PKG_OUT}/empty)

set(NT_DIR_PERMS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
    GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(NT_DOC_PERMS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

foreach(comp IN LISTS NT_PKG_COMPONENTS)
  set(pkg nodetask-${comp})
  # The targets' own install() rules (in controller/ and agent/) have no
  # component; these put the same programs into the packages.
  install(TARGETS ${pkg} RUNTIME DESTINATION sbin COMPONENT ${comp})
  install(FILES ${NT_DEPLOY_SRC}/systemd/${pkg}.service
          DESTINATION /lib/systemd/system PERMISSIONS ${NT_DOC_PERMS}
          COMPONENT ${comp})
  install(FILES ${NT_DEPLOY_SRC}/config/${comp}.conf
          DESTINATION /etc/nodetask PERMISSIONS ${NT_DOC_PERMS}
          COMPONENT ${comp})
  install(FILES ${NT_PKG_OUT}/${pkg}.8.gz DESTINATION share/man/man8
          PERMISSIONS ${NT_DOC_PERMS} COMPONENT ${comp})
  install(FILES ${NT_PKG_SRC}/copyright ${NT_PKG_OUT}/changelog.gz
          DESTINATION share/doc/${pkg} PERMISSIONS ${NT_DOC_PERMS}
          COMPONENT ${comp})
  install(FILES ${NT_PKG_SRC}/lintian/${pkg}
          DESTINATION share/lintian/overrides PERMISSIONS ${NT_DOC_PERMS}
          COMPONENT ${comp})
endforeach()
# The agent's state directory; its postinst (and systemd's
# StateDirectoryMode) make it 0700.
if(TARGET nodetask-agent)
  install(DIRECTORY ${NT_PKG_OUT}/empty/ DESTINATION /var/lib/nodetask-agent
          DIRECTORY_PERMISSIONS ${NT_DIR_PERMS} COMPONENT agent)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nodetask)
set(CPACK_PACKAGE_VENDOR "nodetask")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL ${NT_PKG_COMPONENTS})
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS ${NT_DIR_PERMS})
# Installing to /etc, /lib and /var is what these packages are for.
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${NODETASK_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_CONTROLLER_PACKAGE_NAME nodetask-controller)
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_SECTION admin)
# postinst creates the service user with adduser.
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_SUGGESTS "postgresql")
set(CPACK_DEBIAN_CONTROLLER_DESCRIPTION
"REST API and agent endpoint for nodetask storage tasks
nodetask runs storage tasks (disk wipes, Ceph OSD creation) on bare-metal
Ceph nodes and lets operators and tools watch and steer them through one
REST API.
.
This package holds the controller: it serves the REST API, keeps every
task run, log line, question and node in PostgreSQL, and talks to the
agents on the storage nodes.")
set(CPACK_DEBIAN_CONTROLLER_PACKAGE_CONTROL_EXTRA
    ${NT_PKG_SRC}/controller/conffiles ${NT_PKG_SRC}/controller/postinst
    ${NT_PKG_SRC}/controller/prerm ${NT_PKG_SRC}/controller/postrm)

set(CPACK_DEBIAN_AGENT_PACKAGE_NAME nodetask-agent)
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "ceph-osd, ceph-common")
set(CPACK_DEBIAN_AGENT_PACKAGE_SUGGESTS "udev")
set(CPACK_DEBIAN_AGENT_DESCRIPTION
"node agent for nodetask storage tasks
nodetask runs storage tasks (disk wipes, Ceph OSD creation) on bare-metal
Ceph nodes and lets operators and tools watch and steer them through one
REST API.
.
This package holds the agent that runs on every storage node: it dials
the controller, reports the node's disks and runs the tasks it is given.")
set(CPACK_DEBIAN_AGENT_PACKAGE_CONTROL_EXTRA
    ${NT_PKG_SRC}/agent/conffiles ${NT_PKG_SRC}/agent/postinst
    ${NT_PKG_SRC}/agent/prerm ${NT_PKG_SRC}/agent/postrm)

include(CPack)
