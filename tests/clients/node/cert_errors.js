// Whether Node's TLS refused the server's certificate: OpenSSL's verify errors and the name check, by the
// error code Node gives them, or, where a client replaces that code (mysql2 sets HANDSHAKE_SSL_ERROR on
// every TLS failure), by OpenSSL's message for them.
'use strict';
const CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_CHAIN_TOO_LONG', 'INVALID_CA', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const MESSAGES = [
  'unable to get issuer certificate', 'unable to get local issuer certificate', 'unable to verify the first certificate',
  'self-signed certificate', 'self signed certificate', 'certificate not trusted', 'certificate signature failure',
  'certificate has expired', 'certificate is not yet valid', 'certificate chain too long', 'invalid CA certificate',
  "does not match certificate's altnames",
];
exports.certificateRefused = (err) =>
  CODES.has(err.code) || (err.code === 'HANDSHAKE_SSL_ERROR' && MESSAGES.some((m) => String(err.message).includes(m)));
