#pragma once

#include <filesystem>
#include <string>

namespace weft {

/// A certificate and its private key, as PEM files.
struct certificate_files {
  std::filesystem::path certificate;
  std::filesystem::path key;
};

/// Creates a certificate authority in `dir` (ca.pem, ca.key): the root of
/// trust of one weft installation. Refuses (`weft::error`, already_exists)
/// to overwrite an existing one.
certificate_files make_certificate_authority(const std::filesystem::path& dir);

/// Throws `weft::error` (invalid_argument) unless `name` may name a node
/// certificate: 1 to 64 letters, digits, '-', '_' or '.', and not "ca".
void validate_certificate_name(const std::string& name);

/// Issues a node certificate `<name>.pem` / `<name>.key` in `dir`, signed by
/// the CA there, for a server, runner or client (TLS client and server
/// use). Throws `weft::error` when the CA is missing or the name is bad.
certificate_files issue_certificate(const std::filesystem::path& dir,
                                    const std::string& name);

} // namespace weft
