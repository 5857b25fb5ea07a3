#include "weft/certs.hpp"
#include "weft/text.hpp"

#include "weft/error.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdio>
#include <memory>

#include <sys/stat.h>

namespace fs = std::filesystem;

namespace weft {

namespace {

struct pkey_free {
  void operator()(EVP_PKEY* p) const {
    EVP_PKEY_free(p);
  }
};
struct x509_free {
  void operator()(X509* p) const {
    X509_free(p);
  }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

[[noreturn]] void fail(const std::string& what) {
  throw error(errc::io_error, "cannot " + what + " (OpenSSL failed)");
}

pkey_ptr make_key() {
  pkey_ptr key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  if (!key)
    fail("generate a key");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  auto* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr || X509_add_ext(cert, ext, -1) != 1)
    fail("add a certificate extension");
  X509_EXTENSION_free(ext);
}

x509_ptr make_cert(EVP_PKEY* key, const std::string& common_name, long days) {
  x509_ptr cert{X509_new()};
  if (!cert)
    fail("create a certificate");
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof(serial));
  serial[0] &= 0x7f;
  auto* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  auto* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("weft"), -1,
                             -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(
                               common_name.c_str()),
                             -1, -1, 0);
  return cert;
}

void write_pem(const fs::path& file, bool is_key, EVP_PKEY* key, X509* cert) {
  auto* out = std::fopen(file.c_str(), "wx"); // never overwrite
  if (out == nullptr)
    throw error(errc::io_error,
                "cannot create " + file.string() + ": does it exist already?");
  if (is_key)
    ::fchmod(fileno(out), 0600);
  bool ok = is_key ? PEM_write_PrivateKey(out, key, nullptr, nullptr, 0,
                                          nullptr, nullptr)
                       == 1
                   : PEM_write_X509(out, cert) == 1;
  std::fclose(out);
  if (!ok)
    fail("write " + file.string());
}

template <class T, class Reader>
T read_pem(const fs::path& file, Reader reader, const char* what) {
  auto* in = std::fopen(file.c_str(), "r");
  if (in == nullptr)
    throw error(errc::invalid_argument, std::string{"no "} + what + " at "
                                          + file.string()
                                          + ": run `weft certs init` first");
  T result{reader(in, nullptr, nullptr, nullptr)};
  std::fclose(in);
  if (!result)
    throw error(errc::bad_data, file.string() + " is not a PEM " + what);
  return result;
}

} // namespace

certificate_files make_certificate_authority(const fs::path& dir) {
  certificate_files files{dir / "ca.pem", dir / "ca.key"};
  std::error_code ec;
  if (fs::exists(files.certificate, ec) || fs::exists(files.key, ec))
    throw error(errc::already_exists,
                "a certificate authority already exists in " + dir.string()
                  + ": issue node certificates with `weft certs issue NAME`, "
                    "or choose another --dir");
  fs::create_directories(dir, ec);
  auto key = make_key();
  auto cert = make_cert(key.get(), "weft CA", 3650);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  add_extension(cert.get(), cert.get(), NID_basic_constraints,
                "critical,CA:TRUE");
  add_extension(cert.get(), cert.get(), NID_key_usage,
                "critical,keyCertSign,cRLSign");
  add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0)
    fail("sign the CA certificate");
  write_pem(files.key, true, key.get(), nullptr);
  write_pem(files.certificate, false, nullptr, cert.get());
  return files;
}

void validate_certificate_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name != "ca";
  for (char c : name)
    ok = ok
         && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
             || c == '.');
  if (!ok)
    throw error(errc::invalid_argument,
                "certificate name " + text::quote(name)
                  + " must be 1 to 64 letters, digits, '-', '_' or '.' "
                    "(and not \"ca\")");
}

certificate_files issue_certificate(const fs::path& dir,
                                    const std::string& name) {
  validate_certificate_name(name);
  auto ca_cert
    = read_pem<x509_ptr>(dir / "ca.pem", PEM_read_X509, "CA certificate");
  auto ca_key
    = read_pem<pkey_ptr>(dir / "ca.key", PEM_read_PrivateKey, "CA key");
  certificate_files files{dir / (name + ".pem"), dir / (name + ".key")};
  std::error_code ec;
  if (fs::exists(files.certificate, ec) || fs::exists(files.key, ec))
    throw error(errc::already_exists, "a certificate named " + name
                                        + " already exists in " + dir.string()
                                        + ": pick another name");
  auto key = make_key();
  auto cert = make_cert(key.get(), name, 825);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  add_extension(cert.get(), ca_cert.get(), NID_basic_constraints,
                "critical,CA:FALSE");
  add_extension(cert.get(), ca_cert.get(), NID_key_usage,
                "critical,digitalSignature,keyAgreement");
  add_extension(cert.get(), ca_cert.get(), NID_ext_key_usage,
                "serverAuth,clientAuth");
  auto san = "DNS:" + name + ",DNS:localhost,IP:127.0.0.1";
  add_extension(cert.get(), ca_cert.get(), NID_subject_alt_name, san.c_str());
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0)
    fail("sign the certificate of " + name);
  write_pem(files.key, true, key.get(), nullptr);
  write_pem(files.certificate, false, nullptr, cert.get());
  return files;
}

} // namespace weft
