#!/usr/bin/python3
"""awscli_format.py OPERATION < wire.json: prints a DynamoDB JSON 1.0 response body as
`aws dynamodb <operation>` (aws CLI v2) prints it with --output json: the CLI's own botocore
(awscli.botocore, vendored in v2) parses it against the operation's output shape with the CLI's
parser defaults (iso8601 timestamps; blobs left as their base64 text, as both
cli_binary_format values do), then the CLI's JSON formatter. Exit 77 when awscli or botocore cannot be imported (the caller prints SKIP)."""
import io
import sys

sys.path.insert(0, "/usr/lib/python3/dist-packages")
try:
    import awscli.botocore.session
    from awscli.botocore.parsers import ResponseParserFactory
    from awscli.customizations.binaryformat import identity
    from awscli.customizations.timestampformat import iso_format
    from awscli.formatter import JSONFormatter
except Exception as e:  # noqa: BLE001 - any import failure means: not available here
    print("awscli not importable: %s" % e, file=sys.stderr)
    sys.exit(77)


def main():
    op = sys.argv[1]
    body = sys.stdin.buffer.read()
    session = awscli.botocore.session.get_session()
    model = session.get_service_model("dynamodb")
    shape = model.operation_model(op).output_shape
    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=iso_format, blob_parser=identity)
    parser = factory.create_parser("json")
    parsed = parser.parse({"status_code": 200, "headers": {}, "body": body}, shape)
    parsed.pop("ResponseMetadata", None)
    out = io.StringIO()
    JSONFormatter(None)._format_response(op, parsed, out)
    sys.stdout.write(out.getvalue())


if __name__ == "__main__":
    main()
