// The CLI's help texts, one per command ("" for the overview).

const CONNECTION_HELP = `Connection (one of --name, --path, --host/--port; default 127.0.0.1:7002):
  --name NAME        the server published under NAME (address and token from
                     its discovery file)
  --host HOST        the server's host
  --port PORT        the server's TCP port
  --path PATH        the server's Unix socket
  --token-file FILE  read the token from FILE (else SOCKETBRIDGE_TOKEN, else
                     the discovery file); never from a flag
  --timeout MS       give up after MS milliseconds`;

export const USAGE: Record<string, string> = {
  "": `Usage: socketbridge COMMAND [options]

Commands:
  call TYPE [JSON|-]      send {"type": TYPE, ...JSON}; print the answer
  send [JSON|-]           send a raw payload; print the answer
  stream TYPE [JSON|-]    print each chunk as {"chunk": V}, then the answer
  sub PATTERN...          print each event as {"event": T, "data": V} until Ctrl+C
  describe [--json]       list the server's request types
  stats [--json] [--watch]  per type requests, errors, in flight, latency
  wait [--timeout 10s]    exit 0 once the server answers, 3 if it never does
  inspect                 a web page for the server: its types as forms,
                          streams, events, statistics (127.0.0.1 only)
  ping                    time one round trip; print the server's name
  ls                      list the running servers published by name
  serve --exec CMD...     serve: each request's payload goes to CMD's stdin as
                          JSON, its stdout (JSON) is the result
  mcp                     an MCP server over stdio offering the server's types
                          as tools (for agents)

Run "socketbridge COMMAND --help" for a command's options.
Exit status: 0 ok, 1 error answer, 2 bad usage, 3 no answer.`,
  call: `Usage: socketbridge call TYPE [JSON|-] [--answer] [options]

Sends {"type": TYPE, ...JSON} ("-" reads JSON from stdin) and prints the
answer as one line of JSON. A JSON whose own "type" is not TYPE is refused.

  --answer           answer the server's calls back: each is printed as
                     {"call": PAYLOAD}, and answered with the next line of
                     stdin (JSON); without it the server's calls are refused

${CONNECTION_HELP}`,
  send: `Usage: socketbridge send [JSON|-] [options]

Sends the JSON object as it is ("-" reads it from stdin; default {}) and
prints the answer as one line of JSON.

${CONNECTION_HELP}`,
  stream: `Usage: socketbridge stream TYPE [JSON|-] [options]

Sends {"type": TYPE, ...JSON} and prints each chunk as {"chunk": VALUE} on
its own line as it comes, then the final answer.

${CONNECTION_HELP}`,
  sub: `Usage: socketbridge sub PATTERN... [options]

Subscribes to topic patterns ("jobs.*", "logs.>") and prints each event as
{"event": TOPIC, "data": VALUE}, a loss as {"event": "$dropped", "data":
{"count": N}}, a reconnection as {"event": "$gap"}, until interrupted.

${CONNECTION_HELP}`,
  describe: `Usage: socketbridge describe [--json] [options]

Lists the request types the server declares, with their descriptions and
JSON Schemas (--json: the raw list).

${CONNECTION_HELP}`,
  ping: `Usage: socketbridge ping [options]

Sends one $hello and prints {"server": NAME, "ms": ROUND_TRIP}.

${CONNECTION_HELP}`,
  mcp: `Usage: socketbridge mcp [options]

Runs an MCP server over stdin/stdout that offers every request type the
SocketBridge server declares as an MCP tool: tools/call sends a request,
streamed chunks arrive as progress notifications, and cancelling the call
sends $cancel. Point an agent's MCP configuration at this command.

${CONNECTION_HELP}`,
  ls: `Usage: socketbridge ls [--json]

Lists the servers of this user published with a name: name, address, pid,
and whether it still runs.`,
  serve: `Usage: socketbridge serve --exec CMD [ARG...] [options]

Serves requests by running CMD: the payload goes to its stdin as one line of
JSON; its stdout, parsed as JSON, is the result. A non-zero exit is answered
handler_error with the last line of its stderr.

Options:
  --name NAME          publish under NAME (discovery)
  --host HOST          address to bind (default 127.0.0.1)
  --port PORT          TCP port (default 7002; 0 picks one)
  --path PATH          serve on this Unix socket
  --token-file FILE    require the token in FILE (else SOCKETBRIDGE_TOKEN)
  --concurrency N      commands running at once (default 4)
  --timeout MS         kill a command after MS milliseconds (default 30000)`,
  stats: `Usage: socketbridge stats [--json] [--watch [--interval 2s]] [options]

Prints the server's $stats: per request type the requests and errors since
it started, those in flight, p50/p99/max processing time over the latest
requests (timed from the first $stats on), and the last error.

  --json             print the JSON as it is
  --watch            ask again every --interval (default 2s) until Ctrl+C: on
                     a terminal the table is redrawn in place, elsewhere one
                     JSON line each

${CONNECTION_HELP}`,
  wait: `Usage: socketbridge wait [--timeout 10s] [options]

Waits until the server answers (by --name, --path or --host/--port), asking
again with a growing pause (never a busy loop): exit 0 as soon as it answers,
3 when the timeout passes. On a terminal a progress line says how long.

  --timeout DURATION  how long to wait: 500ms, 10s, 2m (default 10s)

${CONNECTION_HELP}`,
  inspect: `Usage: socketbridge inspect [options]

Serves a web page for the server on 127.0.0.1, on a free port, and prints its
address with a one-time token (the page refuses any request without it). The
page lists the server's request types as forms made from their JSON Schemas
(a raw JSON editor for the rest), calls them and shows each answer, the chunks
of a stream as they come (Cancel sends $cancel), subscribes to topic patterns
and lists their events (and how many were dropped), shows $stats with a
latency chart per type, and logs every exchange. It opens nothing by itself,
fetches nothing from elsewhere, and never shows the server's token.

${CONNECTION_HELP}`,
};
