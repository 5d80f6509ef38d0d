import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * A real HTTP client that sends one request and then reads nothing: a raw socket with a small receive buffer
 * (SO_RCVBUF, which Node cannot set on TCP sockets, hence perl, part of every Debian system). When told to
 * finish it reads whatever the server delivered until the server closes, and reports the status, how many SSE
 * `token` events arrived and whether the server had closed the connection (EOF).
 */
const SCRIPT = String.raw`
use strict; use Socket; $| = 1;
my ($port, $path, $body, $rcvbuf, $headers) = @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
setsockopt($s, SOL_SOCKET, SO_RCVBUF, $rcvbuf + 0) or die "setsockopt: $!";
connect($s, pack_sockaddr_in($port, inet_aton("127.0.0.1"))) or die "connect: $!";
my $req = "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n$headers" . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
defined(send($s, $req, 0)) or die "send: $!";
print "sent\n";
my $go = <STDIN>;
my ($all, $eof) = ('', 0);
eval {
  local $SIG{ALRM} = sub { die "alarm\n" };
  alarm 20;
  while (1) { my $n = sysread($s, my $buf, 65536); if (!defined $n) { last } if ($n == 0) { $eof = 1; last } $all .= $buf; }
  alarm 0;
};
my ($status) = $all =~ /^HTTP\/1\.1 (\d{3})/;
my $tokens = () = $all =~ /event: token/g;
print "status=" . ($status // 0) . " tokens=$tokens eof=$eof bytes=" . length($all) . "\n";
`;

export interface StallingResult {
  status: number;
  tokens: number;
  eof: boolean;
  bytes: number;
}

export class StallingClient {
  private readonly lines: string[] = [];
  private readonly waiters: (() => void)[] = [];

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      this.lines.push(l);
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  /** Opens the connection and sends the request; resolves once it is sent. */
  static async open(port: number, path: string, body: unknown, opts: { rcvbuf?: number; headers?: Record<string, string> } = {}): Promise<StallingClient> {
    if (!fs.existsSync('/usr/bin/perl')) throw new Error('StallingClient needs perl (Debian perl-base)');
    const headers = Object.entries(opts.headers ?? {})
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const child = spawn('/usr/bin/perl', ['-e', SCRIPT, String(port), path, JSON.stringify(body), String(opts.rcvbuf ?? 4096), headers], { stdio: ['pipe', 'pipe', 'inherit'] });
    const c = new StallingClient(child);
    await c.line((l) => l === 'sent');
    return c;
  }

  private async line(match: (l: string) => boolean): Promise<string> {
    for (;;) {
      const found = this.lines.find(match);
      if (found) return found;
      if (this.child.exitCode !== null) throw new Error(`stalling client exited (${this.child.exitCode}) before printing the expected line`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Start reading: drain what the server delivered until it closes (or 20 s pass) and report. */
  async finish(): Promise<StallingResult> {
    this.child.stdin!.end('go\n');
    const l = await this.line((x) => x.startsWith('status='));
    const m = /status=(\d+) tokens=(\d+) eof=(\d) bytes=(\d+)/.exec(l)!;
    return { status: Number(m[1]), tokens: Number(m[2]), eof: m[3] === '1', bytes: Number(m[4]) };
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
