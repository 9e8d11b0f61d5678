import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { StackError } from './errors';

/** What the CQL server needs for client encryption, and what a client trusts. */
export interface CqlCertificates {
  /** PKCS12: the node's key and certificate, signed by the CA. */
  keystore: string;
  keystorePassword: string;
  /** The CA's certificate (PEM): what SCYLLA_TLS_CA_FILE names. */
  caFile: string;
}

/**
 * A CA and a node certificate for the local CQL server's client encryption, made once per state dir with the JDK's
 * keytool (Java is already required; no openssl needed). Nothing here is checked in: the keys and the random store
 * password live in the state dir. The node certificate names 127.0.0.1 and localhost. Both are valid from 400 days
 * back: the shifted-clock tests run clients a year behind the servers.
 */
export async function cqlCertificates(dir: string, keytool: string): Promise<CqlCertificates> {
  const out = { keystore: path.join(dir, 'node.p12'), caFile: path.join(dir, 'ca.pem') };
  const passwordFile = path.join(dir, 'store-password');
  if (existsSync(out.keystore) && existsSync(out.caFile) && existsSync(passwordFile))
    return { ...out, keystorePassword: readFileSync(passwordFile, 'utf8') };

  const work = `${dir}.partial`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // Hex, not base64url: keytool's launcher takes any argument starting with -J as a JVM option, so a password that
  // began with "-J" (1 run in ~4,000) failed with "Could not find or load main class".
  const password = randomBytes(18).toString('hex');
  const store = (name: string) => ['-keystore', path.join(work, name), '-storetype', 'PKCS12', '-storepass', password];
  const key = ['-keyalg', 'EC', '-groupname', 'secp256r1', '-startdate', '-400d', '-validity', '3650'];
  const steps: string[][] = [
    ['-genkeypair', '-alias', 'ca', '-dname', 'CN=local-stack CQL CA', ...key, '-ext', 'bc:c', ...store('ca.p12')],
    ['-exportcert', '-alias', 'ca', '-rfc', '-file', path.join(work, 'ca.pem'), ...store('ca.p12')],
    ['-genkeypair', '-alias', 'node', '-dname', 'CN=127.0.0.1', ...key, ...store('node.p12')],
    ['-certreq', '-alias', 'node', '-file', path.join(work, 'node.csr'), ...store('node.p12')],
    [
      '-gencert',
      '-alias',
      'ca',
      '-infile',
      path.join(work, 'node.csr'),
      '-outfile',
      path.join(work, 'node.pem'),
      '-rfc',
      '-startdate',
      '-400d',
      '-validity',
      '3650',
      '-ext',
      'san=ip:127.0.0.1,dns:localhost',
      '-ext',
      'eku=serverAuth',
      ...store('ca.p12'),
    ],
    ['-importcert', '-noprompt', '-alias', 'ca', '-file', path.join(work, 'ca.pem'), ...store('node.p12')],
    ['-importcert', '-alias', 'node', '-file', path.join(work, 'node.pem'), ...store('node.p12')],
  ];
  for (const args of steps) {
    try {
      await promisify(execFile)(keytool, args);
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string };
      throw new StackError(
        'STACK_TLS_SETUP_FAILED',
        `keytool ${args[0]} failed: ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || (error as Error).message}`,
        { cause: error },
      );
    }
  }
  writeFileSync(path.join(work, 'store-password'), password, { mode: 0o600 });
  rmSync(dir, { recursive: true, force: true });
  renameSync(work, dir);
  return { ...out, keystorePassword: password };
}

/** keytool beside the Java the servers run on. */
export const keytoolPath = () =>
  process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'keytool') : 'keytool';
