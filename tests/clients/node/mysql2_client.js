// mysql2 verifying the server (chain and name): node mysql2_client.js CA NAME=PORT...
// CA is a PEM file given as ssl.ca (it replaces Node's roots), or "-": Node's roots plus NODE_EXTRA_CA_CERTS.
// Prints one JSON line per server: connects, refuses (a certificate verify error) or error.
'use strict';
const fs = require('fs');
const mysql = require('mysql2/promise');
const { certificateRefused } = require('./cert_errors');

setTimeout(() => { console.error('timeout'); process.exit(4); }, 60000).unref();

async function attempt(ca, port) {
  const ssl = { rejectUnauthorized: true, verifyIdentity: true };
  if (ca !== '-') ssl.ca = fs.readFileSync(ca);
  let conn;
  try {
    conn = await mysql.createConnection({
      host: 'localhost', port, user: 'root', password: '', ssl, connectTimeout: 10000,
    });
  } catch (err) {
    return [certificateRefused(err) ? 'refuses' : 'error', `${err.code}: ${err.message}`];
  }
  try {
    const [rows] = await conn.query("show status like 'Ssl_version'");
    return ['connects', rows[0].Value];
  } finally {
    await conn.end();
  }
}

(async () => {
  const [ca, ...endpoints] = process.argv.slice(2);
  for (const endpoint of endpoints) {
    const [chain, port] = endpoint.split('=');
    const [result, detail] = await attempt(ca, Number(port));
    console.log(JSON.stringify({ chain, result, detail }));
  }
  process.exit(0);
})();
