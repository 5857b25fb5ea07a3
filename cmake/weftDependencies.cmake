# The packages weft's own build uses. Only Boost (json) and Threads are
# public (weftConfig.cmake finds them again for an embedding project); the
# others are private to libweft.so.
find_package(Threads REQUIRED)
set(WEFT_BOOST_VERSION 1.81)
find_package(Boost ${WEFT_BOOST_VERSION} REQUIRED COMPONENTS json)
find_package(CapnProto REQUIRED)
# The journal's store.
find_package(RocksDB REQUIRED)
find_package(OpenSSL REQUIRED)
# Graphviz lays out job pictures (libgraphviz-dev ships pkg-config files).
find_package(PkgConfig REQUIRED)
if(NOT TARGET PkgConfig::graphviz)
  pkg_check_modules(graphviz REQUIRED IMPORTED_TARGET libgvc libcgraph)
endif()

# Debian's libcaf-dev ships no CMake package: wrap it in imported targets.
if(NOT TARGET CAF::core)
  find_path(CAF_INCLUDE_DIR caf/all.hpp)
  find_library(CAF_CORE_LIBRARY caf_core)
  find_library(CAF_IO_LIBRARY caf_io)
  find_library(CAF_OPENSSL_LIBRARY caf_openssl)
  if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIBRARY OR NOT CAF_IO_LIBRARY
     OR NOT CAF_OPENSSL_LIBRARY)
    message(FATAL_ERROR "CAF 0.17 not found: install it with "
                        "'apt-get install libcaf-dev' (see scripts/install-deps.sh)")
  endif()
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION ${CAF_CORE_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io UNKNOWN IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION ${CAF_IO_LIBRARY}
    INTERFACE_LINK_LIBRARIES CAF::core)
  add_library(CAF::openssl UNKNOWN IMPORTED)
  set_target_properties(CAF::openssl PROPERTIES
    IMPORTED_LOCATION ${CAF_OPENSSL_LIBRARY}
    INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL")
endif()
