"""The timeline service after the server dropped it, with socketIO-client 0.6/0.7 (Engine.IO v3).

Usage: trigger_reconnect_socketio_client.py HOST PORT ROOM. Joins ROOM, prints READY and waits for
a line on standard input, meanwhile the test cuts the connection. It then emits JOIN until an emit
finds the connection dead (the first one may vanish into the closed socket): the client opens a
new session and sends the namespace CONNECT and the JOIN right after each other, without waiting
for the answer. It prints RECONNECTED, then the first UPDATES it receives as a JSON line, and exits.
"""
import json
import sys
import time

from socketIO_client import SocketIO, BaseNamespace

host, port, room = sys.argv[1], int(sys.argv[2]), sys.argv[3]
done = []


class Trigger(BaseNamespace):
    def on_UPDATES(self, data):
        print(json.dumps({"UPDATES": data}), flush=True)
        done.append(True)


io = SocketIO(host, port, wait_for_connection=False)
trigger = io.define(Trigger, "/trigger")
trigger.emit("JOIN", room)
io.wait(seconds=0.5)
print("READY", flush=True)
sys.stdin.readline()

# The session id is read only to stop emitting once the reconnecting emit has gone out: a JOIN
# sent later, on its own, would mask a lost one.
session = io._engineIO_session.id
for _ in range(20):
    trigger.emit("JOIN", room)
    if io._engineIO_session.id != session:
        break
    time.sleep(0.2)
else:
    sys.exit(2)
print("RECONNECTED", flush=True)
for _ in range(50):
    io.wait(seconds=0.2)
    if done:
        break
io.disconnect()
sys.exit(0 if done else 1)
