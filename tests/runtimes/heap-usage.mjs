// Ask a V8 inspector (workerd's --inspector-addr) for its isolate's heap usage; prints the JSON result.
// Run by Node with WebSocket available (a global from Node 22; behind --experimental-websocket in Node 20).
const socket = new WebSocket(process.argv[2]);
const reply = new Promise((resolve, reject) => {
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.id === 1) resolve(message.result ?? message);
  };
  socket.onerror = () => reject(new Error(`cannot reach the inspector at ${process.argv[2]}`));
});
socket.onopen = () => socket.send(JSON.stringify({ id: 1, method: 'Runtime.getHeapUsage' }));
const timeout = setTimeout(() => {
  console.error('the inspector did not answer');
  process.exit(1);
}, 10_000);
console.log(JSON.stringify(await reply));
clearTimeout(timeout);
socket.close();
process.exit(0);
