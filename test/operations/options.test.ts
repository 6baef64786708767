import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, envName, OPTION_SPECS, OptionError, resolveOptions } from '../../src/options';

describe('options', () => {
  it('has a default and a description for every option', () => {
    expect(Object.keys(OPTION_SPECS).sort()).toEqual(Object.keys(DEFAULT_OPTIONS).sort());
    expect(resolveOptions()).toEqual({ ...DEFAULT_OPTIONS });
  });

  it('names environment variables WS_ + upper snake case', () => {
    expect(envName('port')).toBe('WS_PORT');
    expect(envName('corsOrigin')).toBe('WS_CORS_ORIGIN');
    expect(envName('maxHttpBufferSize')).toBe('WS_MAX_HTTP_BUFFER_SIZE');
  });

  it('reads numbers given as text and origin lists', () => {
    const options = resolveOptions({ port: '8080', corsOrigin: 'https://a.example, http://b.example:8000', path: '/prefix/socket.io/' });
    expect(options.port).toBe(8080);
    expect(options.corsOrigin).toEqual(['https://a.example', 'http://b.example:8000']);
    expect(options.path).toBe('/prefix/socket.io');
  });

  it.each([
    [{ port: -1 }, '--port'],
    [{ port: 1.5 }, '--port'],
    [{ port: '' }, '--port'],
    [{ path: '' }, '--path'],
    [{ path: 'relative' }, '--path'],
    [{ corsOrigin: 'https://a.example/path' }, '--cors-origin'],
    [{ logFormat: 'xml' }, '--log-format'],
    [{ maxHttpBufferSize: 10 }, '--max-http-buffer-size'],
  ])('refuses %j naming %s', (input, flag) => {
    expect(() => resolveOptions(input)).toThrow(OptionError);
    expect(() => resolveOptions(input)).toThrow(flag);
  });
});
