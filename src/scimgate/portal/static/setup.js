// The live test panel: polls the link's activity (a few seconds apart) and redraws the requests, the checklist and
// the users and groups. Text only (textContent), never HTML from the response: request targets are what the IdP sent.
const live = document.querySelector("#live");

function cell(row, text) {
  const td = document.createElement("td");
  if (text instanceof Node) td.appendChild(text); else td.textContent = text;
  row.appendChild(td);
}

function explanation(entry) {
  const span = document.createElement("span");
  if (entry.reason) {
    const strong = document.createElement("strong");
    strong.className = "reason";
    strong.textContent = entry.reason;
    span.append(strong, ": ");
    // Advice names commands and attributes in backticks, as the operator's log shows them: code, not text.
    entry.advice.split("`").forEach((part, index) => {
      if (index % 2) { const code = document.createElement("code"); code.textContent = part; span.append(code); }
      else span.append(part);
    });
  } else if (entry.ignored.length) {
    span.textContent = "ignored: " + entry.ignored.join(", ");
  }
  return span;
}

function draw(data) {
  const body = live.querySelector("tbody");
  body.replaceChildren();
  for (const entry of data.requests) {
    const row = document.createElement("tr");
    if (entry.status >= 400) row.className = "failed";
    const code = document.createElement("code");
    code.textContent = entry.request;
    cell(row, entry.time); cell(row, code); cell(row, entry.target); cell(row, String(entry.status));
    cell(row, explanation(entry));
    body.appendChild(row);
  }
  if (!data.requests.length) {
    const row = document.createElement("tr");
    row.className = "empty";
    cell(row, "No request from your IdP yet.");
    row.firstChild.colSpan = 5;
    body.appendChild(row);
  }
  for (const item of data.checklist) {
    const li = document.querySelector(`#checklist li[data-key="${item.key}"]`);
    if (!li) continue;
    li.className = item.done ? "done" : "pending";
    li.firstChild.textContent = (item.done ? "✓" : "○") + li.firstChild.textContent.slice(1);
  }
  document.querySelector("#held-counts").textContent = `${data.user_count} users, ${data.group_count} groups.`;
  document.querySelector("#users").replaceChildren(...data.users.map((u) => {
    const li = document.createElement("li");
    li.textContent = u.user_name + (u.display_name ? ` (${u.display_name})` : "") + (u.active === false ? " inactive" : "");
    return li;
  }));
  document.querySelector("#groups").replaceChildren(...data.groups.map((g) => {
    const li = document.createElement("li");
    li.textContent = `${g.display_name} (${g.members} members)`;
    return li;
  }));
}

async function poll() {
  try {
    const response = await fetch(live.dataset.activity, { cache: "no-store", credentials: "omit" });
    if (response.ok) draw(await response.json());
  } catch (error) {
    // A missed poll (network, server restarting) is retried on the next tick.
  }
}

if (live) setInterval(poll, 3000);
