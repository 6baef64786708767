"""The timeline service's side of /trigger, with socketIO-client 0.6/0.7 (Engine.IO v3).

Usage: trigger_socketio_client.py HOST PORT ROOM. Joins ROOM without an ack (as the timeline
service does), prints READY, then for each UPDATES it receives prints it as a JSON line and
answers with BROADCAST_STATUS(ROOM, {"echo": data}); exits after the first one.
"""
import json
import sys

from socketIO_client import SocketIO, BaseNamespace

host, port, room = sys.argv[1], int(sys.argv[2]), sys.argv[3]
done = []


class Trigger(BaseNamespace):
    def on_UPDATES(self, data):
        print(json.dumps({"UPDATES": data}), flush=True)
        self.emit("BROADCAST_STATUS", room, {"echo": data})
        done.append(True)


io = SocketIO(host, port, wait_for_connection=False)
trigger = io.define(Trigger, "/trigger")
trigger.emit("JOIN", room)
io.wait(seconds=0.5)
print("READY", flush=True)
for _ in range(100):
    io.wait(seconds=0.2)
    if done:
        break
io.wait(seconds=0.5)
io.disconnect()
sys.exit(0 if done else 1)
