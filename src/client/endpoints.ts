// Endpoint strings as etcdctl accepts them: `host:port`, `http://host:port` or `https://host:port`.

export interface Endpoint {
  /** The text the user gave, trimmed. */
  readonly raw: string;
  /** `host:port`, what gRPC dials. */
  readonly address: string;
  readonly secure: boolean;
  /** The scheme written, if any: `http` forces cleartext, `https` TLS; none follows the client's TLS setting. */
  readonly scheme?: 'http' | 'https';
}

export function parseEndpoint(text: string): Endpoint {
  const raw = text.trim();
  let address = raw;
  let secure = false;
  let written: 'http' | 'https' | undefined;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw);
  if (scheme !== null) {
    const name = scheme[1].toLowerCase();
    if (name !== 'http' && name !== 'https') throw new Error(`unsupported endpoint scheme: ${raw}`);
    secure = name === 'https';
    written = secure ? 'https' : 'http';
    address = raw.slice(scheme[0].length).replace(/\/+$/, '');
  }
  if (address === '') throw new Error(`empty endpoint: ${JSON.stringify(text)}`);
  return { raw, address, secure, scheme: written };
}
