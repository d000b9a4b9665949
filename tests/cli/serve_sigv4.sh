#!/usr/bin/env bash
# serve_sigv4.sh: `tidemark serve` checks AWS Signature Version 4 as DynamoDB does: 23 requests
# signed by hand (tests/cli/serve_sigv4.py): valid ones (a 10-minute skew, repeated headers,
# runs of spaces, a signed query) pass; a wrong secret, an old or future date, an unsigned
# host, a signed header not sent, a malformed or truncated or overlong signature, another
# service or scope are InvalidSignatureException; an unknown key UnrecognizedClientException;
# none MissingAuthenticationTokenException.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_home
aws_env AKIDSIGV4 sigv4-secret
start_serve "$TM_HOME/serve.log"
python3 "$TM_ROOT/tests/cli/serve_sigv4.py" "$SRV_PORT" AKIDSIGV4 sigv4-secret || fail "a SigV4 case was answered wrongly"
stop_serve
echo "serve_sigv4: OK"
