// Chat page: send and receive over the WebSocket (/ws), follow the same room over
// server-sent events (/events). Plain JS, no build step. Text is inserted with textContent,
// never innerHTML, so a message can never inject markup.
(() => {
  "use strict";
  const root = document.getElementById("chat");
  const log = document.getElementById("messages");
  const feed = document.getElementById("feed");
  const form = document.getElementById("chat-form");
  const author = document.getElementById("author");
  const text = document.getElementById("text");
  const status = document.getElementById("status");
  const wsPath = root.dataset.wsPath || "/ws";
  const eventsPath = root.dataset.eventsPath || "/events";
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let socket = null;
  let retries = 0;

  function show(list, message) {
    const item = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = message.author;
    item.append(who, ": " + message.text);
    list.append(item);
    while (list.children.length > 100) list.firstElementChild.remove();
    item.scrollIntoView({ block: "nearest" });
  }

  function setStatus(state, label) {
    status.dataset.state = state;
    status.textContent = label;
  }

  function connect() {
    socket = new WebSocket(scheme + "//" + location.host + wsPath);
    socket.addEventListener("open", () => {
      retries = 0;
      setStatus("open", "connected");
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "message") show(log, message);
      else if (message.type === "error") setStatus("error", message.detail);
    });
    socket.addEventListener("close", () => {
      setStatus("closed", "disconnected, reconnecting…");
      const delay = Math.min(1000 * 2 ** retries, 10000);
      retries += 1;
      setTimeout(connect, delay);
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!text.value.trim() || !socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ author: author.value, text: text.value }));
    text.value = "";
    text.focus();
  });

  const events = new EventSource(eventsPath);
  events.addEventListener("message", (event) => show(feed, JSON.parse(event.data)));
  connect();
})();
