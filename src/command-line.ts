/**
 * The service's command line and environment, read into one checked configuration: the flags
 * and `--help` come from the option table, and values from either source pass the same checks.
 */
import yargs from 'yargs';
import {
  defaultText,
  envName,
  kebab,
  LEGACY_ENV_PREFIX,
  OPTION_GROUPS,
  OPTION_SPECS,
  OptionError,
  parseBoolean,
  rangeText,
  readEnvironment,
  resolveOptions,
  type OptionInput,
  type OptionSpec,
  type ServiceOptions,
} from './options';

const OPTION_NAMES = Object.keys(OPTION_SPECS) as (keyof ServiceOptions)[];

/** The option a flag spells, long (`https`) or short (`S`). */
function optionOfFlag(dashes: string, flag: string): keyof ServiceOptions | undefined {
  return OPTION_NAMES.find((name) => (dashes === '--' ? kebab(name) === flag : OPTION_SPECS[name].alias === flag));
}

/**
 * yargs takes any `--https=WORD` (and `-S=WORD`) as false. A boolean flag given a value is read
 * here by the environment's rule instead, and handed on as `=true` or `=false`; an empty value
 * is dropped, as an empty variable is.
 * @throws {OptionError} naming the flag.
 */
function checkBooleanValues(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return argv.flatMap((arg, i) => {
    const match = end !== -1 && i > end ? null : /^(--?)(no-)?([^=]+)=([\s\S]*)$/.exec(arg);
    const name = match ? optionOfFlag(match[1], match[3]) : undefined;
    if (!match || !name || OPTION_SPECS[name].type !== 'boolean') return [arg];
    const flag = `--${kebab(name)}`;
    if (match[2]) throw new OptionError(`--no-${kebab(name)} takes no value`);
    return match[4].trim() === '' ? [] : [`${flag}=${parseBoolean(flag, match[4])}`];
  });
}

function parser(argv: string[]) {
  const parser = yargs(argv)
    .scriptName('websocket-service')
    .usage('$0 [options]\n\nRelays push notifications between publishers and room subscribers over Socket.IO.')
    .strict()
    .fail((message, error) => {
      throw error instanceof OptionError ? error : new OptionError(message ?? error?.message ?? 'invalid arguments');
    })
    .help()
    .alias('h', 'help')
    .version()
    .option('print-config', { type: 'boolean', describe: 'print the effective configuration (secrets masked) and exit' })
    .epilogue(
      `Every option can also be set from the environment: ${envName('')} + its name in upper snake case, e.g. ${envName('corsOrigin')}; ` +
        `an empty variable counts as unset, and the command line wins. ${LEGACY_ENV_PREFIX}* names (${LEGACY_ENV_PREFIX}PORT) are still read, with a warning. ` +
        'LOG_NAME sets the source of 2immerse log lines.',
    );
  for (const name of OPTION_NAMES) {
    const spec: OptionSpec<unknown> = OPTION_SPECS[name];
    const flag = kebab(name);
    const range = rangeText(spec);
    parser.option(flag, {
      alias: spec.alias,
      // Integers are read as text, so that 1e3 or 0x10 are refused as typed rather than converted.
      type: spec.type === 'integer' ? 'string' : spec.type,
      requiresArg: spec.type !== 'boolean',
      group: `${OPTION_GROUPS[spec.group]}:`,
      // Ranges and choices are listed here rather than given to yargs, whose refusal spans several lines.
      describe: `${spec.describe}${range ? ` (${range})` : ''} [env ${envName(name)}]`,
      // No default given to yargs: an option it reports is one the command line set.
      defaultDescription: defaultText(name),
    });
    // Listed as a number by --help; the parser still hands over the text, strings taking precedence.
    if (spec.type === 'integer') parser.number(flag);
  }
  return parser.group(['print-config', 'help', 'version'], `${OPTION_GROUPS.operations}:`);
}

/** What `--help` prints. */
export function helpText(): Promise<string> {
  return parser([]).getHelp();
}

/** The options the command line set, by the same rule as the environment: empty means unset. */
function commandLineInput(args: Record<string, unknown>): OptionInput {
  const input: OptionInput = { values: {}, sources: {}, warnings: [] };
  for (const name of OPTION_NAMES) {
    const flag = `--${kebab(name)}`;
    let value = args[name];
    if (Array.isArray(value)) {
      if (name !== 'corsOrigin') throw new OptionError(`${flag} is given more than once`);
      value = value.join(',');
    }
    if (value === undefined || String(value).trim() === '') continue;
    input.values[name] = String(value);
    input.sources[name] = flag;
  }
  return input;
}

/** The configuration read from the command line and the environment. */
export interface CommandLine {
  options: ServiceOptions;
  /** Variables ignored or deprecated, one line each, to log. */
  warnings: string[];
  printConfig: boolean;
}

/**
 * Reads `argv` (without node and the script) over `env`: the command line wins, an empty value
 * from either counts as unset. `--help` and `--version` print and exit.
 * @throws {OptionError} naming the flag or variable of the first bad value.
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv): CommandLine {
  const fromEnv = readEnvironment(env);
  const args = parser(checkBooleanValues(argv)).parseSync();
  const cli = commandLineInput(args);
  const options = resolveOptions({ ...fromEnv.values, ...cli.values }, { ...fromEnv.sources, ...cli.sources });
  return { options, warnings: fromEnv.warnings, printConfig: Boolean(args.printConfig) };
}
