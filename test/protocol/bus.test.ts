import { beforeEach, describe } from 'vitest';
import { startServer, type TestServer } from '../helpers';
import { roomScenarios, singleNode } from '../support/room-scenarios';

let server: TestServer;
beforeEach(async () => {
  server = await startServer();
});

describe('/bus', () => {
  roomScenarios('/bus', () => singleNode(() => server));
});
