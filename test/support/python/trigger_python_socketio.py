"""The timeline service's side of /trigger, with python-socketio 5 (Engine.IO v4).

Usage: trigger_python_socketio.py HOST PORT ROOM. Connects to the /trigger namespace, joins ROOM
(without an ack, as the timeline service does), prints READY, then for the first UPDATES it
receives prints it as a JSON line and answers with BROADCAST_STATUS(ROOM, {"echo": data}); exits 0
after that one, or 1 if none came within about 15 seconds.
"""
import json
import sys
import threading
import time

import socketio

host, port, room = sys.argv[1], int(sys.argv[2]), sys.argv[3]
NSP = "/trigger"
done = threading.Event()

sio = socketio.Client(reconnection=False)


@sio.on("UPDATES", namespace=NSP)
def on_updates(data):
    if done.is_set():
        return
    print(json.dumps({"UPDATES": data}), flush=True)
    # A tuple is sent as several arguments: BROADCAST_STATUS(room, data).
    sio.emit("BROADCAST_STATUS", (room, {"echo": data}), namespace=NSP)
    done.set()


sio.connect(f"http://{host}:{port}", namespaces=[NSP], wait_timeout=5)
sio.emit("JOIN", room, namespace=NSP)
# The JOIN has no ack; give the server a moment to handle it before announcing readiness.
time.sleep(0.5)
print("READY", flush=True)
ok = done.wait(timeout=15)
time.sleep(0.5)  # let the BROADCAST_STATUS leave before closing
sio.disconnect()
sys.exit(0 if ok else 1)
