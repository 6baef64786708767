import { describe, expect, it } from 'vitest';
import { helpText, parseCommandLine } from '../../src/command-line';
import { DEFAULT_OPTIONS, ENV_PREFIX, envName, kebab, OPTION_GROUPS, OPTION_SPECS, OptionError, printableConfig, readEnvironment, resolveOptions } from '../../src/options';

describe('options', () => {
  it('has a default and a description for every option', () => {
    expect(Object.keys(OPTION_SPECS).sort()).toEqual(Object.keys(DEFAULT_OPTIONS).sort());
    expect(resolveOptions()).toEqual({ ...DEFAULT_OPTIONS });
  });

  it('puts every option in a --help group, each group in one run of rows', () => {
    const groups = Object.values(OPTION_SPECS).map((spec) => spec.group);
    expect(groups.every((group) => group in OPTION_GROUPS)).toBe(true);
    const runs = groups.filter((group, i) => group !== groups[i - 1]);
    expect(runs).toEqual(Object.keys(OPTION_GROUPS));
  });

  it('names environment variables WEBSOCKET_SERVICE_ + upper snake case', () => {
    expect(envName('port')).toBe('WEBSOCKET_SERVICE_PORT');
    expect(envName('corsOrigin')).toBe('WEBSOCKET_SERVICE_CORS_ORIGIN');
    expect(envName('maxHttpBufferSize')).toBe('WEBSOCKET_SERVICE_MAX_HTTP_BUFFER_SIZE');
  });

  it('reads numbers given as text and origin lists', () => {
    const options = resolveOptions({ port: '8080', corsOrigin: 'https://a.example, http://b.example:8000', path: '/prefix/socket.io/' });
    expect(options.port).toBe(8080);
    expect(options.corsOrigin).toEqual(['https://a.example', 'http://b.example:8000']);
    expect(options.path).toBe('/prefix/socket.io');
    expect(resolveOptions({ advertiseUrl: 'HTTPS://Node-1.internal:3443/' }).advertiseUrl).toBe('https://node-1.internal:3443');
  });

  it.each([
    [{ port: -1 }, '--port'],
    [{ port: 1.5 }, '--port'],
    [{ port: '' }, '--port'],
    [{ port: '1e3' }, '--port'],
    [{ port: '0x10' }, '--port'],
    [{ port: '0b1' }, '--port'],
    [{ port: '3000.0' }, '--port'],
    [{ eventRate: '1_000' }, '--event-rate'],
    [{ path: '' }, '--path'],
    [{ path: 'relative' }, '--path'],
    [{ corsOrigin: 'https://a.example/path' }, '--cors-origin'],
    [{ logFormat: 'xml' }, '--log-format'],
    [{ logLevel: 'trace' }, '--log-level'],
    [{ redisMode: 'cluster' }, '--redis-mode'],
    [{ https: 'maybe' }, '--https'],
    [{ console: 2 }, '--console'],
    [{ maxHttpBufferSize: 10 }, '--max-http-buffer-size'],
    [{ port: 3000, metricsPort: 3000 }, '--metrics-port must differ from --port'],
    [{ advertiseUrl: 'ws1:3000' }, '--advertise-url'],
    [{ advertiseUrl: 'ftp://ws1:3000' }, '--advertise-url'],
    [{ advertiseUrl: 'http://ws1:3000/prefix' }, '--advertise-url'],
    [{ advertiseUrl: 'http://user:pass@ws1:3000' }, '--advertise-url'],
    [{ advertiseUrl: 'http://ws1:3000/?q=1' }, '--advertise-url'],
  ])('refuses %j naming %s', (input, flag) => {
    expect(() => resolveOptions(input)).toThrow(OptionError);
    expect(() => resolveOptions(input)).toThrow(flag);
  });

  it('names the variable a bad value came from', () => {
    expect(() => resolveOptions({ port: '1e3' }, { port: 'WEBSOCKET_SERVICE_PORT' })).toThrow('WEBSOCKET_SERVICE_PORT must be a decimal integer');
    expect(() => resolveOptions({ redis: 'a:b:c' }, { redis: 'WS_REDIS' })).toThrow(/^WS_REDIS: /);
    expect(() => resolveOptions({ metricsPort: '9100', port: '9100' }, { metricsPort: 'WEBSOCKET_SERVICE_METRICS_PORT', port: '--port' })).toThrow(
      'WEBSOCKET_SERVICE_METRICS_PORT must differ from --port',
    );
  });

  it('lets the metrics port equal the service port when it is 0 or metrics are off', () => {
    expect(resolveOptions({ port: 0, metricsPort: 0 }).metricsPort).toBe(0);
    expect(resolveOptions({ port: 9100, metricsPort: 9100, metrics: false }).metricsPort).toBe(9100);
  });

  it('takes --verbose as --log-level debug', () => {
    expect(resolveOptions().logLevel).toBe('info');
    expect(resolveOptions({ logLevel: 'warn' }).logLevel).toBe('warn');
    expect(resolveOptions({ verbose: true, logLevel: 'warn' }).logLevel).toBe('debug');
  });
});

describe('environment', () => {
  it('reads WEBSOCKET_SERVICE_* variables with their sources, an empty one as unset', () => {
    const input = readEnvironment({ WEBSOCKET_SERVICE_PORT: '8080', WEBSOCKET_SERVICE_CLIENT_TOKEN: '', WEBSOCKET_SERVICE_REDIS: ' ', PATH: '/bin' });
    expect(input).toEqual({ values: { port: '8080' }, sources: { port: 'WEBSOCKET_SERVICE_PORT' }, warnings: [] });
  });

  it('warns about and ignores unknown WEBSOCKET_SERVICE_* variables', () => {
    const input = readEnvironment({ WEBSOCKET_SERVICE_PROT: '80', WEBSOCKET_SERVICE_FOO: 'bar' });
    expect(input.values).toEqual({});
    expect(input.warnings).toEqual(['WEBSOCKET_SERVICE_PROT is not an option of this service: ignored', 'WEBSOCKET_SERVICE_FOO is not an option of this service: ignored']);
  });

  it.each(['WS', 'WEBSOCKET_SERVICE'])('ignores the variables Kubernetes injects for a Service named after the prefix %s', (prefix) => {
    const input = readEnvironment({
      [`${prefix}_SERVICE_HOST`]: '10.0.0.11',
      [`${prefix}_SERVICE_PORT`]: '3000',
      [`${prefix}_SERVICE_PORT_HTTP`]: '3000',
      [`${prefix}_PORT`]: 'tcp://10.0.0.11:3000',
      [`${prefix}_PORT_3000_TCP`]: 'tcp://10.0.0.11:3000',
      [`${prefix}_PORT_3000_TCP_PROTO`]: 'tcp',
      [`${prefix}_PORT_3000_TCP_PORT`]: '3000',
      [`${prefix}_PORT_3000_TCP_ADDR`]: '10.0.0.11',
    });
    expect(input.values).toEqual({});
    expect(input.warnings).toEqual([`${prefix}_PORT looks like a Kubernetes service link (tcp://…): ignored`]);
  });

  it('reads WS_* under the options\' own names only, with a deprecation warning, losing to WEBSOCKET_SERVICE_*', () => {
    const input = readEnvironment({ WS_PORT: '8080', WS_HTTPS: 'yes', WEBSOCKET_SERVICE_HTTPS: 'no', WS_SOMETHING_ELSE: 'x' });
    expect(input.values).toEqual({ port: '8080', https: 'no' });
    expect(input.sources).toEqual({ port: 'WS_PORT', https: 'WEBSOCKET_SERVICE_HTTPS' });
    expect(input.warnings.sort()).toEqual(['WS_HTTPS is ignored: WEBSOCKET_SERVICE_HTTPS is set', 'WS_PORT is deprecated: rename it WEBSOCKET_SERVICE_PORT']);
  });
});

describe('command line and environment', () => {
  const read = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseCommandLine(argv, env);
  const legacy = (option: string) => 'WS_' + envName(option).slice(ENV_PREFIX.length);

  // One rule for every value, wherever it comes from: the same refusal, naming its source.
  describe.each([
    ['port', '1e3'],
    ['port', '0x10'],
    ['port', '80.0'],
    ['port', 'abc'],
    ['https', 'maybe'],
    ['metrics', 'nope'],
    ['logLevel', 'verbose'],
    ['logFormat', 'xml'],
    ['maxConnections', '-1'],
    ['clientToken', 'short'],
    ['redis', 'a:b:c'],
  ])('the value %s=%j', (option, value) => {
    const flag = `--${kebab(option)}`;
    it.each([
      [flag, [`${flag}=${value}`], {}],
      [envName(option), [], { [envName(option)]: value }],
      [legacy(option), [], { [legacy(option)]: value }],
    ])('is refused from %s, naming it', (source, argv, env) => {
      expect(() => read(argv, env)).toThrow(OptionError);
      expect(() => read(argv, env)).toThrow(new RegExp(`^${source}[ :]`));
    });
  });

  it.each([
    ['clientToken', null],
    ['redis', null],
    ['port', 3000],
    ['console', true],
    ['https', false],
    ['logLevel', 'info'],
  ])('takes an empty %s, from a variable or a flag, as unset', (option, fallback) => {
    for (const { options } of [read([], { [envName(option)]: '' }), read([`--${kebab(option)}=`]), read([], { [legacy(option)]: '' })]) {
      expect(printableConfig(options)[option]).toBe(fallback);
    }
  });

  it('lets the command line win over the environment, and WEBSOCKET_SERVICE_ over WS_', () => {
    expect(read(['--port', '4000'], { WEBSOCKET_SERVICE_PORT: '5000', WS_PORT: '6000' }).options.port).toBe(4000);
    expect(read([], { WEBSOCKET_SERVICE_PORT: '5000', WS_PORT: '6000' }).options.port).toBe(5000);
    expect(read([], { WS_PORT: '6000' }).options.port).toBe(6000);
  });

  it('reads boolean flags strictly, with or without a value', () => {
    expect(read(['--https']).options.https).toBe(true);
    expect(read(['-S=yes']).options.https).toBe(true);
    expect(read(['--https=off']).options.https).toBe(false);
    expect(read(['--no-console']).options.console).toBe(false);
    expect(() => read(['-S=maybe'])).toThrow('--https must be true or false, got "maybe"');
    expect(() => read(['--no-https=yes'])).toThrow('--no-https takes no value');
  });

  it('refuses an option given twice, --metrics-port equal to --port, and unknown flags', () => {
    expect(() => read(['--port', '1', '--port', '2'])).toThrow('--port is given more than once');
    expect(() => read(['--port', '9100'], { WEBSOCKET_SERVICE_METRICS_PORT: '9100' })).toThrow('WEBSOCKET_SERVICE_METRICS_PORT must differ from --port (both 9100)');
    expect(() => read(['--prot', '80'])).toThrow('Unknown argument');
  });

  it('starts beside foreign and Kubernetes variables, warning about the ones it cannot use', () => {
    const { options, warnings } = read([], { WEBSOCKET_SERVICE_FOO: 'bar', WS_FOO: 'bar', WS_SERVICE_HOST: '10.0.0.11', WS_PORT: 'tcp://10.0.0.11:3000' });
    expect(options.port).toBe(3000);
    expect(warnings.sort()).toEqual(['WEBSOCKET_SERVICE_FOO is not an option of this service: ignored', 'WS_PORT looks like a Kubernetes service link (tcp://…): ignored']);
  });

  it.each([
    [['--log-level', 'warn'], {}, 'warn'],
    [[], { WEBSOCKET_SERVICE_LOG_LEVEL: 'error' }, 'error'],
    [['-v', '--log-level', 'warn'], {}, 'debug'],
    [['--verbose'], {}, 'debug'],
  ])('sets the log level from %j %j', (argv, env, level) => {
    expect(read(argv, env).options.logLevel).toBe(level);
  });

  it('groups --help by topic and types numeric options as numbers, with their ranges', async () => {
    const help = await helpText();
    const headings = help.split('\n').filter((line) => /^\S.*:$/.test(line));
    expect(headings).toEqual(['Server:', 'TLS:', 'Cluster:', 'Limits:', 'Security:', 'Logging:', 'Operations:']);
    expect(help).toMatch(/-p, --port[\s\S]*?\(0\.\.65535\)[\s\S]*?\[number\] \[default: 3000\]/);
    expect(help).toMatch(/--log-level[\s\S]*?\(debug, info, warn, error\)/);
    expect(help).toContain('WEBSOCKET_SERVICE_CORS_ORIGIN');
    expect(help).not.toContain('[string] [default: 3000]');
  });
});
