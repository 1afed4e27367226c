/** The claims of a JWT, decoded without verification: for reports and diagnosis only, never for trust. */
export function decodeJwtClaims(token: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' ? claims : undefined;
  } catch {
    return undefined;
  }
}

export function stringClaim(claims: Record<string, unknown> | undefined, name: string): string | undefined {
  const v = claims?.[name];
  return typeof v === 'string' ? v : undefined;
}
