// Sittings in the browser: countdowns on the dashboard (to an upcoming sitting's opening,
// to an open one's closing), and the instructor's live view of a sitting, which reads
// GET /api/v1/sittings/{id}/progress every few seconds and counts each candidate's time
// down in between. Text from the server is only ever set with textContent.
(function () {
  "use strict";

  function span(seconds) {
    // "2 days 3 hours", "5 minutes 2 seconds": the two largest units, as the server says
    let rest = Math.max(0, Math.ceil(seconds));
    const parts = [];
    for (const [name, size] of [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]]) {
      const count = Math.floor(rest / size);
      rest -= count * size;
      if (count || (size === 1 && parts.length === 0)) {
        parts.push(count + " " + name + (count === 1 ? "" : "s"));
      }
    }
    return parts.slice(0, 2).join(" ");
  }

  function clock(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    const h = Math.floor(whole / 3600);
    const m = Math.floor((whole % 3600) / 60);
    const s = whole % 60;
    const two = (n) => String(n).padStart(2, "0");
    return (h ? h + ":" + two(m) : String(m)) + ":" + two(s);
  }

  function utc(iso) {
    if (!iso) return "-";
    const d = new Date(iso);
    const two = (n) => String(n).padStart(2, "0");
    return (
      d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) + " " +
      two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + ":" + two(d.getUTCSeconds())
    );
  }

  // --- dashboard countdowns ---------------------------------------------------------------

  const loaded = Date.now();
  const countdowns = document.querySelectorAll("[data-countdown]");
  if (countdowns.length) {
    let reloaded = false;
    const tick = () => {
      const elapsed = (Date.now() - loaded) / 1000;
      for (const node of countdowns) {
        const left = Number(node.dataset.countdown) - elapsed;
        if (left <= 0) {
          node.textContent = node.dataset.done || "now";
          // an upcoming sitting has opened: show its start button
          if (node.dataset.reload === "true" && !reloaded) {
            reloaded = true;
            setTimeout(() => window.location.reload(), 1500);
          }
        } else {
          node.textContent = span(left);
        }
      }
    };
    tick();
    setInterval(tick, 1000);
  }

  // --- the live view ------------------------------------------------------------------------

  const live = document.getElementById("live");
  if (!live) return;
  const url = "/api/v1/sittings/" + live.dataset.sitting + "/progress";
  const every = Number(live.dataset.seconds || 5) * 1000;
  const $ = (id) => document.getElementById(id);
  const STATES = {
    not_started: "not started",
    in_progress: "sitting",
    submitted: "submitted",
    expired: "time up",
  };
  let offsetMs = 0; // the server's clock minus this browser's
  let last = null;

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function accommodation(terms) {
    if (!terms) return "-";
    const parts = [];
    if (terms.extra_time_seconds) parts.push("+" + Math.round(terms.extra_time_seconds / 60) + " min");
    if (terms.time_multiplier) parts.push("\u00d7" + terms.time_multiplier + " time");
    if (terms.extra_attempts) parts.push("+" + terms.extra_attempts + " attempt" + (terms.extra_attempts === 1 ? "" : "s"));
    if (terms.closes_at) parts.push("closes " + utc(terms.closes_at));
    return parts.join(", ") || "-";
  }

  function timeLeft(candidate) {
    if (candidate.state !== "in_progress") return "-";
    if (!candidate.deadline) return "untimed";
    const seconds = (Date.parse(candidate.deadline) - (Date.now() + offsetMs)) / 1000;
    return seconds > 0 ? clock(seconds) : "time up";
  }

  function render(data) {
    $("live-state").textContent = data.state;
    $("live-state").className = "tag state-" + data.state;
    $("count-roster").textContent = data.roster;
    $("count-waiting").textContent = data.not_started;
    $("count-running").textContent = data.in_progress;
    $("count-done").textContent = data.finished;
    const body = $("live-table").tBodies[0];
    const rows = [];
    for (const c of data.candidates) {
      const tr = document.createElement("tr");
      tr.dataset.username = c.username;
      tr.className = "live-" + c.state;
      const who = cell(c.display_name);
      const name = document.createElement("span");
      name.className = "muted";
      name.textContent = " (" + c.username + ")" + (c.on_roster ? "" : ", no longer in the cohorts");
      who.append(name);
      tr.append(
        who,
        cell(STATES[c.state] || c.state, "status"),
        cell(c.attempt_number ? c.attempt_number + " of " + (c.attempts_allowed ?? "\u221e") : "0 of " + (c.attempts_allowed ?? "\u221e")),
        cell(utc(c.started_at)),
        cell(timeLeft(c), "left"),
        cell(utc(c.submitted_at)),
        cell(c.scaled_score === null ? "-" : c.scaled_score + (c.passed ? " pass" : " fail")),
        cell(accommodation(c.accommodation)),
      );
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  function tick() {
    if (!last) return;
    const now = Date.now() + offsetMs;
    const shown = $("live-window");
    if (last.state === "upcoming") {
      shown.textContent = "opens in " + span((Date.parse(last.opens_at) - now) / 1000);
    } else if (last.state === "open" && last.closes_at) {
      shown.textContent = "closes in " + span((Date.parse(last.closes_at) - now) / 1000) + " (" + utc(last.closes_at) + " UTC)";
    } else if (last.state === "open") {
      shown.textContent = "no closing time";
    } else {
      shown.textContent = "closed at " + utc(last.closes_at) + " UTC";
    }
    const rows = $("live-table").tBodies[0].rows;
    last.candidates.forEach((c, i) => {
      if (rows[i]) rows[i].querySelector(".left").textContent = timeLeft(c);
    });
  }

  async function refresh() {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      const data = await response.json().catch(() => null);
      if (!response.ok || !data) {
        throw new Error((data && data.detail) || "the server answered " + response.status);
      }
      offsetMs = Date.parse(data.server_time) - Date.now();
      last = data;
      render(data);
      tick();
      $("live-updated").textContent = "Updated " + utc(data.server_time) + " UTC; refreshes every " + every / 1000 + " seconds.";
      $("live-error").hidden = true;
      $("live-error").textContent = "";
    } catch (err) {
      // an alert: said when the refresh starts failing or the reason changes, not every try
      const text = "Could not refresh (" + err.message + "); trying again every " + every / 1000 + " seconds.";
      if ($("live-error").textContent !== text) $("live-error").textContent = text;
      $("live-error").hidden = false;
    }
    setTimeout(refresh, every);
  }

  setInterval(tick, 1000);
  refresh();
})();
