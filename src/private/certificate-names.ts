/**
 * True when the certificate name `certified` covers the host (pattern) `host`, both lower case: the
 * same name, or `*.` and the name below the host's first label. A wildcard covers exactly one
 * label ("The asterisk (*) must be in the leftmost position of the domain name and can protect only
 * one subdomain level", https://docs.aws.amazon.com/acm/latest/userguide/acm-certificate.html):
 * `*.example.com` covers `api.example.com`, not `example.com` or `a.b.example.com`.
 */
export function certificateNameCovers(certified: string, host: string): boolean {
  const name = certified.toLowerCase().replace(/\.$/, '');
  if (name === host) {
    return true;
  }
  if (!name.startsWith('*.')) {
    return false;
  }
  const firstDot = host.indexOf('.');
  return firstDot > 0 && host.slice(firstDot + 1) === name.slice(2);
}
