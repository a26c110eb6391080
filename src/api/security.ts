// The one place that decides how the client port's connections are secured. Only cleartext exists
// today; TLS (https:// listen URLs, --cert-file/--key-file/--client-cert-auth) will add a variant
// here: terminate TLS on the accepted socket, then route by ALPN instead of by sniffing the preface.

import { ServerCredentials } from '@grpc/grpc-js';

export type ClientPortSecurity = { readonly kind: 'insecure' };

export const INSECURE: ClientPortSecurity = { kind: 'insecure' };

/** The listen URL schemes a security setting serves. */
export function schemesFor(security: ClientPortSecurity): readonly string[] {
  switch (security.kind) {
    case 'insecure':
      return ['http:'];
  }
}

/**
 * Credentials for the gRPC connection injector. Connections reach it already secured (or not) by the
 * client port, so they are insecure at the gRPC layer whatever the port's setting.
 */
export function grpcCredentials(security: ClientPortSecurity): ServerCredentials {
  switch (security.kind) {
    case 'insecure':
      return ServerCredentials.createInsecure();
  }
}
