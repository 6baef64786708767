import fs from 'node:fs';

/** Clock ticks per second of /proc/PID/stat's CPU times (USER_HZ; 100 on every Linux port in use). */
const CLOCK_TICKS = 100;

/** CPU time (user + system, all threads) of a process, in microseconds, from /proc/PID/stat. */
export function cpuTimeUs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / CLOCK_TICKS;
}

/** Resident set size of a process in bytes, from /proc/PID/status. */
export function rssBytes(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** CPU time of several processes together, in microseconds. */
export function totalCpuUs(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) total += cpuTimeUs(pid);
  return total;
}

/**
 * CPU time all processors spent running processes since boot (user, nice, system, steal), in
 * µs. Interrupt and softirq time is left out: loopback traffic's receive processing lands
 * there, caused by the processes under test but charged to none of them.
 */
export function machineBusyUs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
  const [user, nice, system, , , , , steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user + nice + system + (steal || 0)) * 1e6) / CLOCK_TICKS;
}
