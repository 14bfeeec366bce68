// node-postgres (pg) verifying the server: node pg_client.js CA NAME=PORT...
// CA is a PEM file given as ssl.ca (it replaces Node's roots), or "-": Node's roots plus NODE_EXTRA_CA_CERTS.
// Prints one JSON line per server: connects, refuses (a certificate verify error) or error.
'use strict';
const fs = require('fs');
const { Client } = require('pg');
const { certificateRefused } = require('./cert_errors');

setTimeout(() => { console.error('timeout'); process.exit(4); }, 60000).unref();

async function attempt(ca, port) {
  const ssl = { rejectUnauthorized: true, servername: 'localhost' };
  if (ca !== '-') ssl.ca = fs.readFileSync(ca);
  const client = new Client({
    host: '127.0.0.1', port, user: 'postgres', database: 'postgres', ssl, connectionTimeoutMillis: 10000,
  });
  try {
    await client.connect();
  } catch (err) {
    return [certificateRefused(err) ? 'refuses' : 'error', `${err.code}: ${err.message}`];
  }
  try {
    const res = await client.query('select version from pg_stat_ssl where pid = pg_backend_pid()');
    return ['connects', res.rows[0].version];
  } finally {
    await client.end();
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
