#!/usr/bin/env node
// Compiles ServiceRegistry.sol with the solc-js version pinned in
// package-lock.json (run `npm ci` first) and writes, into the directory
// given as the only argument (default: build):
//   ServiceRegistry.abi.json  the ABI, pretty-printed, keys sorted
//   ServiceRegistry.bin       the creation bytecode, hex, one line
// The settings below are fixed, and bytecodeHash "none" keeps the source's
// metadata hash out of the bytecode, so the output is byte-identical run to
// run and machine to machine. check.sh compares it with the committed files.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

const SOURCE = 'ServiceRegistry.sol';
const CONTRACT = 'ServiceRegistry';
// The compiler version the contract's pragma names and package.json pins.
const SOLC_VERSION = '0.8.37';

// evmVersion cancun, not the compiler's default: go-ethereum v1.17's
// simulated backend and `geth --dev` run it (they start on every fork), and
// an older target keeps the bytecode deployable on chains that lag behind.
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'none' },
  outputSelection: {
    [SOURCE]: { [CONTRACT]: ['abi', 'evm.bytecode.object'] },
  },
};

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) out[k] = sortKeys(v[k]);
    return out;
  }
  return v;
}

function main() {
  const version = solc.version();
  if (!version.startsWith(SOLC_VERSION + '+')) {
    throw new Error(`solc ${version}, want ${SOLC_VERSION}: run npm ci in contracts/`);
  }
  const outDir = path.resolve(process.argv[2] || path.join(__dirname, 'build'));
  const input = {
    language: 'Solidity',
    sources: { [SOURCE]: { content: fs.readFileSync(path.join(__dirname, SOURCE), 'utf8') } },
    settings,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = (output.errors || []).filter((e) => e.severity !== 'info');
  for (const e of problems) process.stderr.write(e.formattedMessage || e.message);
  // Warnings fail the build too: the contract compiles clean.
  if (problems.length > 0) throw new Error(`${SOURCE}: ${problems.length} error(s) or warning(s)`);
  const c = output.contracts[SOURCE][CONTRACT];
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, CONTRACT + '.abi.json'), JSON.stringify(sortKeys(c.abi), null, 2) + '\n');
  fs.writeFileSync(path.join(outDir, CONTRACT + '.bin'), c.evm.bytecode.object + '\n');
}

try {
  main();
} catch (err) {
  process.stderr.write(`build.js: ${err.message}\n`);
  process.exit(1);
}
