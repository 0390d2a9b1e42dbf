/**
 * The `seglog` command line: one program with a subcommand per task, parsed by commander.
 * Every command documents its options, examples and exit codes in `--help`.
 */
import fs from 'node:fs'
import { Command, Option } from 'commander'
import { append, type AppendOptions } from './commands/append.js'
import { bench, type BenchOptions } from './commands/bench.js'
import { compact, type CompactOptions } from './commands/compact.js'
import { info, type InfoOptions } from './commands/info.js'
import { cat, tail, type CatOptions, type TailOptions } from './commands/read.js'
import { repair, type RepairOptions } from './commands/repair.js'
import { verify, type VerifyOptions } from './commands/verify.js'
import type { CommandContext, TargetOptions } from './context.js'
import { usage, type ExitCodeValue } from './errors.js'
import { countRule, flagValue, positiveRule, segmentBytesRule, syncRule } from './flags.js'
import { FORMATS, FRAMINGS } from './format.js'
import { closeTarget, parseTarget, type ReadTarget, type Target } from './target.js'
import { requireStoreContent } from './tiered.js'

/** The version in package.json (dist/src/cli → the package root). */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

const EXIT_CODES = `
Exit codes:
  0    success (verify: no fault)
  1    data fault: verify found faults, corrupt data, or data from a newer seglog
  2    usage error: bad arguments, not a log, malformed input
  3    I/O or object-store error
  4    the log is locked by a running writer
  130  interrupted (Ctrl-C); tail -f exits 0`

const REPAIR_EXIT_CODES = `
Exit codes:
  0    repaired, or nothing to repair
  1    --dry-run: a repair is needed (nothing was changed); or data from a newer seglog
  2    usage error: bad arguments, not a log, a journal URL
  3    I/O error
  4    the log is locked by a running writer
  130  interrupted (Ctrl-C)`

const COMPACT_EXIT_CODES = `
Exit codes:
  0    success
  1    data fault: a journal object is corrupt, or written by a newer seglog
  2    usage error: bad arguments, a local log directory, a store without create-only writes
  3    I/O or object-store error
  130  interrupted (Ctrl-C)`

const BENCH_EXIT_CODES = `
Exit codes:
  0    success
  2    usage error: bad arguments
  3    I/O error (for example, no space left in --dir)
  130  interrupted (Ctrl-C)`

const JOURNAL_URLS = `
  s3://bucket/prefix      S3 or S3-compatible (--endpoint, --path-style, --region);
                          credentials from the AWS SDK chain (AWS_ACCESS_KEY_ID …, profile, IMDS)
  az://container/prefix   Azure Blob (--connection-string or AZURE_STORAGE_CONNECTION_STRING)
  file:///folder          a local folder (FsStore)`

const TARGETS = `
TARGET is a local log directory, or a journal URL:${JOURNAL_URLS}`

// The reading commands also take tiered logs: a directory with --tier, or the store URL alone.
const READ_TARGETS = `
TARGET is a local log directory, or a store URL holding a journal or a tiered log:${JOURNAL_URLS}
A tiered log (Log.open(dir, { tier })) is read as one log: give its directory with
--tier URL (offsets below the local first offset are read from the store), or the store URL
alone (s3://bucket/logs/orders, where logs/orders/segments/ holds the shipped segments; for
file:// give the folder that holds segments/). info, cat, tail and verify never upload,
delete or change anything.`

// Only journals are compacted: a local log's segments are already as large as they are meant to be.
const JOURNAL_TARGETS = `
TARGET is a journal URL (a local log directory is refused):${JOURNAL_URLS}`

const count = (flag: string): ((raw: string) => number) => flagValue(flag, countRule)
const positive = (flag: string): ((raw: string) => number) => flagValue(flag, positiveRule)

function storeOptions(cmd: Command): Command {
  const group = 'Store URL options:'
  return cmd
    .addOption(new Option('--endpoint <url>', 's3: custom endpoint (MinIO, R2, s3rver …)').helpGroup(group))
    .addOption(new Option('--region <region>', 's3: region (default AWS_REGION, else us-east-1)').helpGroup(group))
    .addOption(new Option('--path-style', 's3: path-style addressing (endpoint/bucket/key), for most S3-compatible stores').helpGroup(group))
    .addOption(new Option('--no-conditional-writes', 's3: the endpoint ignores If-None-Match (writing then needs --single-writer)').helpGroup(group))
    .addOption(new Option('--connection-string <string>', 'az: storage connection string (default AZURE_STORAGE_CONNECTION_STRING)').helpGroup(group))
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`
}

/** Builds the program. `run` receives each command's work and turns it into an exit code. */
export function buildProgram(run: (work: (ctx: CommandContext) => Promise<ExitCodeValue>, target?: string) => Promise<void>): Command {
  const program = new Command()
  program
    .name('seglog')
    .description('Inspect, read, write, check and repair seglog logs and object-store journals.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (every command has its own, with examples)')
    .showHelpAfterError('(run the command with --help for its options and examples)')
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`seglog: error: ${str.replace(/^error: /, '')}`) })
    .addHelpText('after', `${READ_TARGETS}\n${EXIT_CODES}\n${examples([
      'seglog info ./data/orders',
      'seglog cat ./data/orders --from 100 --limit 10',
      'seglog tail -f ./data/orders',
      'printf "a\\nb\\n" | seglog append ./data/orders',
      'seglog verify ./data/orders && echo clean',
      'seglog cat s3://my-bucket/journals/errors --endpoint http://127.0.0.1:9000 --path-style',
      'seglog cat ./data/orders --tier s3://my-bucket/logs/orders   # a tiered log, store included',
      'seglog tail -f s3://my-bucket/logs/orders                     # a tiered log\'s store alone',
    ])}`)

  const target = (raw: string, opts: TargetOptions): Target => parseTarget(raw, {
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    ...(opts.region === undefined ? {} : { region: opts.region }),
    ...(opts.pathStyle === undefined ? {} : { pathStyle: opts.pathStyle }),
    ...(opts.conditionalWrites === false ? { conditionalWrites: false } : {}),
    ...(opts.connectionString === undefined ? {} : { connectionString: opts.connectionString }),
  })
  // The reading commands: a store URL is a journal or a tiered log (one listing tells), and a
  // directory with --tier is a tiered log.
  const readTarget = async (raw: string, opts: TargetOptions, signal: AbortSignal): Promise<ReadTarget> => {
    const t = target(raw, opts)
    if (opts.tier === undefined) {
      if (t.kind === 'local') return t
      try {
        return await requireStoreContent(t, signal) === 'journal' ? t : { kind: 'tiered', display: t.display, store: t }
      } catch (err) {
        await closeTarget(t)
        throw err
      }
    }
    const store = target(opts.tier, opts)
    if (t.kind !== 'local' || store.kind !== 'journal') {
      await closeTarget(t)
      await closeTarget(store)
      throw usage(t.kind !== 'local' ? `--tier applies to a local log directory; ${raw} is a store URL already`
        : `--tier takes the store URL the log ships to (s3://, az://, file://); got ${opts.tier}`,
      'give the directory with --tier s3://bucket/prefix, or the store URL alone')
    }
    return { kind: 'tiered', display: raw, store, dir: t }
  }
  const withReadTarget = <O extends TargetOptions>(fn: (t: ReadTarget, o: O, ctx: CommandContext) => Promise<ExitCodeValue>) =>
    async (raw: string, opts: O): Promise<void> => {
      await run(async (ctx) => {
        const t = await readTarget(raw, opts, ctx.signal)
        try {
          return await fn(t, opts, ctx)
        } finally {
          await closeTarget(t)
        }
      }, raw)
    }
  const tierOption = (cmd: Command): Command => cmd
    .addOption(new Option('--tier <url>', 'a tiered log\'s directory: the store URL it ships to (read below the local first offset)').helpGroup('Store URL options:'))

  const withTarget = <O extends TargetOptions>(fn: (t: Target, o: O, ctx: CommandContext) => Promise<ExitCodeValue>) =>
    async (raw: string, opts: O): Promise<void> => {
      let t: Target | undefined
      await run(async (ctx) => {
        t = target(raw, opts)
        try {
          return await fn(t, opts, ctx)
        } finally {
          await closeTarget(t)
        }
      }, raw)
    }

  storeOptions(tierOption(program.command('info')
    .description('Show a log\'s segments, offset range, record count, bytes, format version, last recovery and lock holder (a tiered log\'s store side too; or a journal\'s objects).')
    .argument('<TARGET>', 'log directory or store URL')
    .option('--json', 'print one JSON object')
    .option('--count', 'journals: count events (reads every object)')))
    .addHelpText('after', `${READ_TARGETS}\n${EXIT_CODES}\n${examples([
      'seglog info ./data/orders',
      'seglog info ./data/orders --json | jq .nextOffset',
      'seglog info ./data/orders --tier s3://my-bucket/logs/orders',
      'seglog info s3://my-bucket/logs/orders --endpoint http://127.0.0.1:9000 --path-style',
      'seglog info s3://my-bucket/journals/errors --count',
    ])}\nA log locked by a running writer can still be inspected.`)
    .action(withReadTarget<InfoOptions>(info))

  const printOptions = (cmd: Command): Command => cmd
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS).default('ndjson'))
    .option('--base64', 'JSON formats: always give data as {"base64": …}, even when it is text')
    .addOption(new Option('--framing <framing>', 'raw format: lines (record + LF) or length (u32 little-endian length + record)').choices(FRAMINGS).default('lines'))

  const formatHelp = `
Formats:
  ndjson  one JSON object per line: {"offset":N,"timestamp":MS,"data":…} (journals: "cursor"
          instead of "offset"; JSON journals give "value"). "data" is the payload as a string
          when it is valid UTF-8 without control characters other than tab, LF and CR;
          otherwise, or always with --base64, it is {"base64":"…"}.
  json    the same objects in one JSON array.
  raw     the payload bytes only: each followed by LF, or length-prefixed with --framing length
          (what \`seglog append --framing length\` reads back).
  hex     a header line per record (offset, ISO time, size) and a hex dump.`

  storeOptions(tierOption(printOptions(program.command('cat')
    .description('Print records with their offset and timestamp.')
    .argument('<TARGET>', 'log directory or store URL')
    .option('--from <offset>', 'logs (local or tiered): first offset (default: the first record)', count('--from'))
    .option('--to <offset>', 'logs (local or tiered): stop before this offset (exclusive)', count('--to'))
    .option('--after <cursor>', 'journal: start after this cursor (as printed in "cursor")')
    .option('--limit <n>', 'print at most n records', count('--limit')))))
    .addHelpText('after', `${formatHelp}\n${READ_TARGETS}\n${EXIT_CODES}\n${examples([
      'seglog cat ./data/orders',
      'seglog cat ./data/orders --tier s3://my-bucket/logs/orders --from 0 --limit 10',
      'seglog cat s3://my-bucket/logs/orders --from 1000 --to 1010',
      'seglog cat ./data/orders --from 1000 --to 1010 --format hex',
      'seglog cat ./data/orders --format raw > payloads.txt',
      'seglog cat ./data/orders --format raw --framing length | seglog append ./copy --framing length',
      'seglog cat s3://my-bucket/journals/errors --after 41:7 --limit 100',
    ])}`)
    .action(withReadTarget<CatOptions>(cat))

  storeOptions(tierOption(printOptions(program.command('tail')
    .description('Print the last records, and with -f keep printing new ones until Ctrl-C (exit 0).')
    .argument('<TARGET>', 'log directory or store URL')
    .option('-n, --lines <n>', 'how many of the last records to print first', count('--lines'), 10)
    .option('-f, --follow', 'wait for new records (from another process too) until Ctrl-C')
    .option('--poll-ms <ms>', 'store URLs (journals, tiered logs): how often -f lists the store for new objects (default 1000)', positive('--poll-ms')))))
    .addHelpText('after', `${formatHelp}\n${READ_TARGETS}\n${EXIT_CODES}\n${examples([
      'seglog tail ./data/orders',
      'seglog tail -f -n 0 ./data/orders          # only new records',
      'seglog tail -f az://logs/app --poll-ms 250',
      'seglog tail -f s3://my-bucket/logs/orders --poll-ms 2000   # a tiered log: new segments as they ship',
    ])}\nA log locked by a running writer can be followed: its appends show up as they are written.
On a tiered log's store URL, -f shows records once their segment is shipped.`)
    .action(withReadTarget<TailOptions>(tail))

  storeOptions(program.command('append')
    .description('Append records read from stdin; print each one\'s offset (journals: cursor) on stdout.')
    .argument('<TARGET>', 'log directory (created if missing) or journal URL')
    .addOption(new Option('--framing <framing>', 'lines: one record per LF-terminated line (LF removed); length: u32 little-endian length + bytes').choices(FRAMINGS).default('lines'))
    .option('--sync <mode>', 'local log: always (each printed offset is on disk), never (durable at exit), or a number of ms', flagValue('--sync', syncRule), 'always')
    .option('--segment-bytes <n>', 'local log: roll to a new segment file at this size, 1024 to 1073741824 (default 64 MiB)', flagValue('--segment-bytes', segmentBytesRule))
    .option('-q, --quiet', 'print no offsets and no summary')
    .addOption(new Option('--codec <codec>', 'journal: jsonl (each record is a JSON value) or binary (bytes)').choices(['jsonl', 'binary']).default('jsonl'))
    .option('--batch-events <n>', 'journal: write a batch object once n events are buffered (default 1000)', positive('--batch-events'))
    .option('--single-writer', 'journal: allow a store that cannot enforce create-only writes (only one writer, ever)'))
    .addHelpText('after', `
Records are appended in batches as input arrives; a batch is atomic. With --sync always (the
default) an offset is printed only once its record is on disk. Each record may be up to 16 MiB.
For a JSON journal, blank lines are skipped and any other line must be a JSON value.
${TARGETS}\n${EXIT_CODES}\n${examples([
      'echo \'{"id":1}\' | seglog append ./data/orders',
      'seglog append ./data/orders < events.ndjson > offsets.txt',
      'seglog cat ./old --format raw --framing length | seglog append ./new --framing length -q',
      'seglog append s3://my-bucket/journals/errors --endpoint http://127.0.0.1:9000 --path-style < events.ndjson',
    ])}`)
    .action(withTarget<AppendOptions>(append))

  storeOptions(tierOption(program.command('verify')
    .description('Check every checksum and index; exit 0 when clean, 1 with a report of every fault.')
    .argument('<TARGET>', 'log directory or store URL')
    .option('--json', 'print the report as JSON')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .option('--no-progress', 'never show the progress bar')))
    .addHelpText('after', `
Each fault is reported with its file (or object key), byte and kind: torn-tail (an unfinished
last write), corrupt (damage with valid data after it), newer-version, gap, overlap, index.
A tiered log is checked on both sides: the local segments, and every batch of every segment
in the store (its CRC32C and structure, read with ranged GETs).
A progress bar (bytes, rate, time left) is drawn on stderr when it is a terminal.
${READ_TARGETS}\n${EXIT_CODES}\n${examples([
      'seglog verify ./data/orders',
      'seglog verify ./data/orders --json > report.json || echo "faults found"',
      'seglog verify ./data/orders --tier s3://my-bucket/logs/orders',
      'seglog verify s3://my-bucket/journals/errors',
    ])}\nA log locked by a running writer can be verified (a write in progress may show as a torn tail).`)
    .action(withReadTarget<VerifyOptions>(verify))

  program.command('repair')
    .description('Cut a log at its first damaged byte (a damaged segment is copied aside first) and print exactly what was dropped.')
    .argument('<TARGET>', 'log directory (not open for writing)')
    .option('--dry-run', 'only print what would be done; exit 1 if a repair is needed')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', `
A torn tail (an unfinished last write) is cut off. Corruption (a bad checksum with valid data
after it) cuts the log there after copying the damaged segment to NNNN.log.damaged-TIME in the
same directory, and deletes the later segments: every record from the damage on is dropped, and
the output names them. Damaged index files are deleted (they are rebuilt). Data written by a
newer seglog is never cut. Journals are never repaired: their objects are write-once.
${REPAIR_EXIT_CODES}\n${examples([
      'seglog repair ./data/orders --dry-run',
      'seglog repair ./data/orders',
    ])}`)
    .action(withTarget<RepairOptions>(repair))

  storeOptions(program.command('compact')
    .description('Merge a journal\'s small batch objects into larger ones (readers never see a gap).')
    .argument('<TARGET>', 'journal URL')
    .option('--grace-ms <ms>', 'delete merged originals once older than this (default 60000; 0 deletes now: only when no reader is running)', count('--grace-ms'))
    .option('--single-writer', 'allow a store that cannot enforce create-only writes')
    .option('--json', 'print the result as JSON')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .option('--no-progress', 'never show the progress bar'))
    .addHelpText('after', `${JOURNAL_TARGETS}\n${COMPACT_EXIT_CODES}\n${examples([
      'seglog compact s3://my-bucket/journals/errors',
      'seglog compact file:///var/lib/app/journal --grace-ms 0',
    ])}`)
    .action(withTarget<CompactOptions>(compact))

  program.command('bench')
    .description('Run the built-in workloads (seglog only) in a temporary directory and print a table of records/s.')
    .option('--records <n>', 'records per workload', positive('--records'), 1_000_000)
    .option('--size <bytes>', 'bytes per record', positive('--size'), 128)
    .option('--dir <path>', 'parent of the temporary directory (default: the system temp dir)')
    .option('--json', 'print the results as JSON')
    .addHelpText('after', `
Takes a few seconds. For the comparison with other libraries run \`npm run bench\` in a checkout.
${BENCH_EXIT_CODES}\n${examples(['seglog bench', 'seglog bench --records 1000000 --dir /mnt/fast'])}`)
    .action(async (opts: BenchOptions) => run((ctx) => bench(opts, ctx)))

  return program
}

