/**
 * ACR's firewall refusal: `403 {"errors":[{"code":"DENIED","message":"client with IP \u0027<ip>\u0027 is
 * not allowed access. …"}]}`. Its JSON writer escapes the apostrophes around the IP (\u0027), so the
 * body is read as JSON first and the message matched afterwards.
 */
export function registryMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: { message?: string }[] };
    return parsed.errors?.map((e) => e.message ?? '').join(' ') || body;
  } catch {
    return body;
  }
}

/** The IP ACR says it saw in a DENIED answer, or undefined when the body is not one. */
export function deniedIpOf(body: string): string | undefined {
  return /client with IP '([^']+)' is not allowed access/i.exec(registryMessage(body))?.[1];
}
