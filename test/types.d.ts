declare module 'socket.io-client-v1' {
  const io: (url: string, options?: Record<string, unknown>) => import('./helpers').LegacySocket;
  export = io;
}
declare module 'socket.io-client-v2' {
  const io: (url: string, options?: Record<string, unknown>) => import('./helpers').LegacySocket;
  export = io;
}
