// The exam page: one question at a time, a navigator, a countdown from the server's
// deadline, every change saved at once (retried while the network is down), flags,
// a review screen and submit. Text from the bank is only ever set with textContent.
// Adaptive practice: the questions come one at a time ("Next question" saves, then asks
// the API for the next); the navigator holds only those served so far.
(function () {
  "use strict";

  const root = document.getElementById("exam");
  if (!root) return;
  const attemptId = root.dataset.attempt;
  const readonly = root.dataset.readonly === "true";
  const adaptive = root.dataset.mode === "adaptive";
  const api = "/api/v1/attempts/" + attemptId;
  const resultUrl = "/attempts/" + attemptId + "/result";
  // Screen readers hear the countdown only at these moments (and when time is up), never
  // every second: the timer itself is a role=timer, which is not announced as it changes.
  const WARNINGS = [
    [600, "10 minutes left."],
    [300, "5 minutes left."],
    [60, "1 minute left."],
  ];
  const LATE_MS = 10000; // a moment already this far past when the page opens is said as "under"
  const SLOW_SAVE_MS = 3000; // "Saving" is announced only for a save that takes this long

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  let items = [];
  let current = 0;
  let offsetMs = 0; // server clock minus this browser's clock
  let deadlineMs = null;
  let submitting = false;
  let closed = false;
  const warned = new Set();
  let lastLeft = null; // seconds left at the previous tick (null before the first)
  const saves = new Map(); // position -> {dirty, inflight, failures, error}
  const checks = new Map(); // position -> the practice "check answer" verdict
  let progress = null; // adaptive practice: the attempt's `adaptive` progress from the API
  let fetching = false; // adaptive practice: a request for the next question is out

  // --- helpers -----------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function csrfToken() {
    const cookie = document.cookie.match(/(?:^|;\s*)exam_csrf=([^;]+)/);
    if (cookie) return decodeURIComponent(cookie[1]);
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function call(method, url, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
    const init = { method, headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    try {
      data = await response.json();
    } catch (_err) {
      data = null;
    }
    return { status: response.status, ok: response.ok, data };
  }

  function detail(result, fallback) {
    return (result && result.data && result.data.detail) || fallback;
  }

  function isAnswered(item) {
    const a = item.answer;
    if (a === null || a === undefined) return false;
    if (typeof a === "number") return true; // numeric: 0 is an answer
    if (typeof a === "string") return a.trim() !== ""; // numeric, typed and not yet read
    if (Array.isArray(a)) return a.length > 0;
    return Object.keys(a).length > 0;
  }

  function announce(text, id = "announce") {
    const box = $(id);
    box.textContent = "";
    // a fresh text node so that screen readers announce a repeated message too
    setTimeout(() => {
      box.textContent = text;
    }, 50);
  }

  const NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven"];

  // --- saving ------------------------------------------------------------------------------

  function saveOf(position) {
    if (!saves.has(position)) {
      saves.set(position, { dirty: false, inflight: false, failures: 0, error: null });
    }
    return saves.get(position);
  }

  function busy() {
    for (const s of saves.values()) if (s.dirty || s.inflight) return true;
    return false;
  }

  // The save status is shown as it changes, but announced (politely, in #save-announce) only
  // when it matters: a save that fails and is retried, a refusal, a save slower than
  // SLOW_SAVE_MS, and "saved" again after one of those; never the Saving/Saved of each change.
  let announcedSave = { state: "saved", text: "" };
  let slowSaveTimer = null;

  function announceSave(state, text) {
    if (state === "saving") {
      if (slowSaveTimer === null && announcedSave.state !== "saving") {
        slowSaveTimer = setTimeout(() => {
          slowSaveTimer = null;
          const box = $("save-status");
          if (box.dataset.state === "saving") announceSave("slow", box.textContent);
        }, SLOW_SAVE_MS);
      }
      return;
    }
    clearTimeout(slowSaveTimer);
    slowSaveTimer = null;
    if (state === "slow") state = "saving";
    if (state === "saved" && announcedSave.state === "saved") return;
    if (state === announcedSave.state && (state !== "error" || text === announcedSave.text)) return;
    announcedSave = { state, text };
    announce(text, "save-announce");
  }

  function updateSaveStatus() {
    const box = $("save-status");
    let state = "saved";
    let text = "All answers saved";
    let failing = null;
    let errored = null;
    for (const [position, s] of saves) {
      if (s.error) errored = errored || [position, s.error];
      else if (s.failures > 0 && (s.dirty || s.inflight)) failing = failing || s;
    }
    if (errored) {
      state = "error";
      text = "Not saved (question " + errored[0] + "): " + errored[1].replace(/^question \d+: /, "");
    } else if (failing) {
      state = "retrying";
      text = failing.serverBusy
        ? "Not saved yet: the server is busy, retrying\u2026"
        : "Not saved: no connection, retrying\u2026";
    } else if (busy()) {
      state = "saving";
      text = "Saving\u2026";
    }
    if (box.dataset.state !== state || box.textContent !== text) {
      box.dataset.state = state;
      box.textContent = text;
    }
    announceSave(state, text);
  }

  function save(item) {
    if (readonly || closed) return;
    const s = saveOf(item.position);
    s.dirty = true;
    s.error = null;
    renderNavigator();
    updateSaveStatus();
    flush(item);
  }

  async function flush(item) {
    const s = saveOf(item.position);
    if (s.inflight || !s.dirty) return;
    s.inflight = true;
    s.dirty = false;
    updateSaveStatus();
    const body = { answer: isAnswered(item) ? item.answer : null, flagged: !!item.flagged };
    let result = null;
    try {
      result = await call("PUT", api + "/responses/" + item.position, body);
    } catch (_err) {
      result = null; // the network failed: retry below
    }
    s.inflight = false;
    numericSettled(item, result, body.answer);
    if (result && result.ok) {
      s.failures = 0;
    } else if (result && result.status === 409) {
      s.error = detail(result, "the attempt is closed");
      updateSaveStatus();
      timeIsUp(detail(result, "This attempt is closed."));
      return;
    } else if (result && result.status >= 400 && result.status < 500 && result.status !== 429) {
      s.error = detail(result, "the server refused this answer");
    } else {
      s.dirty = true;
      s.failures += 1;
      s.serverBusy = !!result; // it answered (5xx or 429) rather than the network failing
      const delay = Math.min(8000, 500 * 2 ** Math.min(s.failures, 4));
      setTimeout(() => flush(item), delay);
    }
    updateSaveStatus();
    if (s.dirty && s.failures === 0) flush(item); // changed again while the save was in flight
  }

  async function settle(limitMs) {
    const until = Date.now() + limitMs;
    while (busy() && Date.now() < until) await sleep(100);
  }

  window.addEventListener("beforeunload", (event) => {
    if (busy() && !submitting) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // --- navigator ---------------------------------------------------------------------------

  function renderNavigator() {
    const list = $("nav-list");
    // the list is drawn anew on every change: a keyboard user's focus stays on their button
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.position : null;
    list.replaceChildren();
    items.forEach((item, index) => {
      const answered = isAnswered(item);
      const states = [answered ? "answered" : "unanswered"];
      if (item.flagged) states.push("flagged");
      const button = el(
        "button",
        {
          type: "button",
          class: "nav-item " + states.join(" "),
          "aria-label": "Question " + item.position + ", " + states.join(", "),
          "aria-current": index === current ? "step" : null,
          "data-position": item.position,
          onclick: () => go(index),
        },
        String(item.position),
        item.flagged ? el("span", { class: "flag-mark", "aria-hidden": "true", text: "\u2691" }) : null,
      );
      list.append(el("li", {}, button));
      if (focused === String(item.position)) button.focus();
    });
    $("prev").disabled = current === 0;
    const next = $("next");
    if (adaptive && current === items.length - 1) {
      next.textContent = "Next question";
      next.disabled =
        readonly || closed || fetching || !progress || progress.complete || !isAnswered(items[current]);
    } else {
      next.textContent = "Next \u2192";
      next.disabled = current === items.length - 1;
    }
  }

  // --- adaptive practice -------------------------------------------------------------------

  function renderAdaptive() {
    if (!adaptive || !progress) return;
    const status = $("adaptive-status");
    const done = $("adaptive-done");
    status.hidden = false;
    if (progress.complete) {
      status.textContent = progress.served + " questions served: the practice is complete.";
      done.hidden = false;
      $("adaptive-done-text").textContent = progress.note;
    } else {
      done.hidden = true;
      status.textContent =
        "Adaptive practice: " + progress.served + " of at most " + progress.max_items +
        " questions so far, each chosen from your answers; it stops sooner once your answers " +
        "measure your ability closely enough.";
    }
  }

  function adaptiveProblem(text) {
    const status = $("adaptive-status");
    status.hidden = false;
    status.textContent = text;
    announce(text);
  }

  async function fetchNext() {
    if (fetching || readonly || closed) return;
    fetching = true;
    renderNavigator();
    await settle(15000);
    let result = null;
    if (!busy()) {
      try {
        result = await call("POST", api + "/next");
      } catch (_err) {
        result = null;
      }
    }
    fetching = false;
    if (!result || !result.ok) {
      if (result && result.status === 409) {
        timeIsUp(detail(result, "This attempt is closed."));
        return;
      }
      renderNavigator();
      adaptiveProblem(
        busy()
          ? "Your answer is not saved yet, so the next question cannot be chosen; try again in a moment."
          : detail(result, "Could not get the next question: no connection. Try again."),
      );
      return;
    }
    const data = result.data;
    progress = data.progress;
    if (data.item && !items.some((i) => i.position === data.item.position)) items.push(data.item);
    renderAdaptive();
    if (data.item) {
      go(items.findIndex((i) => i.position === data.item.position));
      announce("Question " + data.item.position + ".");
    } else {
      renderNavigator();
      $("adaptive-done-heading").focus();
    }
  }

  // --- one question ------------------------------------------------------------------------

  function go(index, focusHeading = true) {
    current = Math.max(0, Math.min(items.length - 1, index));
    history.replaceState(null, "", "#q" + (current + 1));
    showQuestions();
    renderNavigator();
    renderQuestion();
    if (focusHeading) $("q-heading").focus();
  }

  function locked(item) {
    return readonly || closed || item.locked;
  }

  function instruction(item) {
    if (item.type === "single") return "Choose one answer.";
    if (item.type === "numeric") {
      return (
        "Type a number" + (item.unit ? " (in " + item.unit + ")" : "") +
        ", e.g. 1200, 1,200 or 1.2e3. Write decimals with a point: 0.25, not 0,25."
      );
    }
    if (item.type === "multiple") {
      const n = item.choose || 0;
      return "Choose " + (NUMBER_WORDS[n] || n) + " answers.";
    }
    if (item.type === "ordering") {
      return "Put these in order: use the Move up and Move down buttons, or drag them.";
    }
    return "Match each item on the left with one choice.";
  }

  function renderQuestion() {
    const item = items[current];
    const box = $("question");
    box.replaceChildren();
    const heading = el(
      "h2",
      { id: "q-heading", tabindex: "-1" },
      "Question " + item.position + (adaptive ? "" : " of " + items.length),
    );
    box.append(heading);
    if (item.case) {
      box.append(
        el(
          "div",
          { class: "case" },
          el("h3", { text: item.case_title || "Scenario" }),
          el("p", { class: "text", text: item.case }),
        ),
      );
    }
    box.append(el("p", { class: "stem text", id: "stem", text: item.stem }));
    const hint = el("p", { class: "hint", id: "instruction", text: instruction(item) });
    box.append(hint);
    if (item.type === "single" || item.type === "multiple") box.append(choiceInputs(item));
    else if (item.type === "ordering") box.append(orderingList(item));
    else if (item.type === "numeric") box.append(numericInput(item));
    else box.append(matchingSelects(item));

    const flag = el("input", {
      type: "checkbox",
      id: "flag",
      checked: item.flagged,
      disabled: readonly || closed,
      onchange: (event) => {
        item.flagged = event.target.checked;
        save(item);
        announce(item.flagged ? "Flagged for review." : "Flag removed.");
      },
    });
    box.append(el("p", { class: "flag" }, flag, el("label", { for: "flag", text: "Flag for review" })));

    if ((root.dataset.mode === "practice" || adaptive) && !readonly) box.append(practiceCheck(item));
  }

  function choiceInputs(item) {
    const multiple = item.type === "multiple";
    const chosen = new Set(Array.isArray(item.answer) ? item.answer : []);
    const fieldset = el("fieldset", { class: "options", "aria-describedby": "instruction" });
    fieldset.append(el("legend", { class: "sr-only", text: "Answer to question " + item.position }));
    for (const option of item.options) {
      const id = "opt-" + item.position + "-" + option.id;
      const input = el("input", {
        type: multiple ? "checkbox" : "radio",
        name: "answer-" + item.position,
        id,
        value: option.id,
        checked: chosen.has(option.id),
        disabled: locked(item),
      });
      input.addEventListener("change", () => {
        if (multiple) {
          const picked = Array.from(fieldset.querySelectorAll("input:checked")).map((i) => i.value);
          if (item.choose && picked.length > item.choose) {
            input.checked = false;
            announce("You can choose " + item.choose + " answers; clear one first.");
            return;
          }
          item.answer = picked.length ? picked.sort() : null;
        } else {
          item.answer = [option.id];
        }
        save(item);
        refreshCheckButton(item);
      });
      fieldset.append(
        el(
          "label",
          { class: "option", for: id },
          input,
          el("span", { class: "letter", text: option.id + "." }),
          el("span", { class: "text", text: option.text }),
        ),
      );
    }
    return fieldset;
  }

  function orderingList(item) {
    const byId = new Map(item.options.map((o) => [o.id, o]));
    const order = isAnswered(item) ? item.answer.slice() : item.options.map((o) => o.id);
    const wrap = el("div", { class: "ordering-wrap" });
    const list = el("ol", { class: "ordering", "aria-describedby": "instruction" });
    let dragFrom = null;

    function commit(newOrder, movedId, focusWhich) {
      item.answer = newOrder;
      save(item);
      renderQuestion();
      refocus(movedId, focusWhich);
      const at = newOrder.indexOf(movedId) + 1;
      if (movedId) announce("Moved to position " + at + " of " + newOrder.length + ".");
    }

    function refocus(movedId, which) {
      if (!movedId) {
        // "Keep this order" is gone once pressed: focus goes to the first row's move button
        const first = $("question").querySelector(".order-row .move-down");
        if (first) first.focus();
        return;
      }
      const row = $("question").querySelector('li[data-id="' + movedId + '"]');
      if (!row) return;
      let button = row.querySelector(which === "up" ? ".move-up" : ".move-down");
      if (button && button.disabled) button = row.querySelector(which === "up" ? ".move-down" : ".move-up");
      if (button) button.focus();
    }

    function move(index, delta, which) {
      const target = index + delta;
      if (target < 0 || target >= order.length) return;
      const next = order.slice();
      const [moved] = next.splice(index, 1);
      next.splice(target, 0, moved);
      commit(next, moved, which);
    }

    order.forEach((id, index) => {
      const option = byId.get(id);
      const disabled = locked(item);
      const row = el(
        "li",
        { class: "order-row", draggable: disabled ? null : "true", "data-id": id },
        el("span", { class: "grip", "aria-hidden": "true", text: "\u2630" }),
        el("span", { class: "letter", text: id + "." }),
        el("span", { class: "text", text: option ? option.text : id }),
        el(
          "span",
          { class: "moves" },
          el("button", {
            type: "button",
            class: "secondary small move-up",
            "aria-label": "Move " + id + " up",
            disabled: disabled || index === 0,
            onclick: () => move(index, -1, "up"),
            text: "\u2191 Up",
          }),
          el("button", {
            type: "button",
            class: "secondary small move-down",
            "aria-label": "Move " + id + " down",
            disabled: disabled || index === order.length - 1,
            onclick: () => move(index, 1, "down"),
            text: "\u2193 Down",
          }),
        ),
      );
      if (!disabled) {
        row.addEventListener("dragstart", (event) => {
          dragFrom = index;
          event.dataTransfer.effectAllowed = "move";
          event.dataTransfer.setData("text/plain", id);
          row.classList.add("dragging");
        });
        row.addEventListener("dragend", () => row.classList.remove("dragging"));
        row.addEventListener("dragover", (event) => {
          event.preventDefault();
          event.dataTransfer.dropEffect = "move";
        });
        row.addEventListener("drop", (event) => {
          event.preventDefault();
          if (dragFrom === null || dragFrom === index) return;
          const next = order.slice();
          const [moved] = next.splice(dragFrom, 1);
          next.splice(index, 0, moved);
          dragFrom = null;
          commit(next, moved, "up");
        });
      }
      list.append(row);
    });
    wrap.append(list);
    if (!isAnswered(item) && !locked(item)) {
      wrap.append(
        el("button", {
          type: "button",
          class: "secondary small",
          id: "keep-order",
          text: "Keep this order as my answer",
          onclick: () => commit(order.slice(), null, null),
        }),
      );
    }
    return wrap;
  }

  function matchingSelects(item) {
    const answer = item.answer && !Array.isArray(item.answer) ? item.answer : {};
    const box = el("div", { class: "matching", role: "group", "aria-describedby": "instruction" });
    for (const prompt of item.prompts) {
      const id = "match-" + item.position + "-" + prompt.id;
      const select = el("select", { id, disabled: locked(item), "data-prompt": prompt.id });
      select.append(el("option", { value: "", text: "Choose\u2026" }));
      for (const choice of item.choices) {
        select.append(
          el("option", { value: choice.id, selected: answer[prompt.id] === choice.id }, choice.id + ". " + choice.text),
        );
      }
      select.addEventListener("change", () => {
        const next = Object.assign({}, item.answer && !Array.isArray(item.answer) ? item.answer : {});
        if (select.value) next[prompt.id] = select.value;
        else delete next[prompt.id];
        item.answer = Object.keys(next).length ? next : null;
        save(item);
        refreshCheckButton(item);
      });
      box.append(
        el(
          "div",
          { class: "pair" },
          el("label", { for: id }, el("span", { class: "letter", text: prompt.id + "." }), el("span", { class: "text", text: prompt.text })),
          select,
        ),
      );
    }
    return box;
  }

  // --- numeric answers ---------------------------------------------------------------------
  // A numeric item is a text box (inputmode decimal) with its unit after it. What was typed is
  // saved as it is, a moment after typing stops or when the box is left; the server reads it
  // ("1,200", "1200" and "1.2e3" are the same number) and answers the number it stored, or
  // refuses text it cannot read with a message that is shown under the box.

  const NUMERIC_PAUSE_MS = 800;

  function numericText(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function numericKeyText(key, unit) {
    const after = unit ? " " + unit : "";
    let text = numericText(key.value) + after;
    if (key.low !== key.high) text += " (accepted: " + key.low + " to " + key.high + after + ")";
    if (key.partial) {
      text += "; partial credit from " + key.partial.low + " to " + key.partial.high + after;
    }
    return text;
  }

  function numericInput(item) {
    const id = "num-" + item.position;
    if (item.accepted === undefined) item.accepted = item.answer; // what the server holds
    if (item.sent === undefined) item.sent = numericText(item.answer);
    const wrap = el("div", { class: "numeric" });
    const input = el("input", {
      type: "text",
      id,
      inputmode: "decimal",
      autocomplete: "off",
      spellcheck: "false",
      value: item.typed !== undefined ? item.typed : numericText(item.answer),
      disabled: locked(item),
      "aria-describedby": "instruction " + id + "-note",
      "aria-invalid": item.refused ? "true" : null,
    });
    const note = el("p", { id: id + "-note", class: item.refused ? "error" : "hint" });
    wrap.append(
      el(
        "div",
        { class: "row-form numeric-answer" },
        el("label", { for: id, text: "Your answer" }),
        input,
        item.unit ? el("span", { class: "unit", text: item.unit }) : null,
      ),
      note,
    );
    numericNote(item, note);
    let timer = null;
    const send = () => {
      clearTimeout(timer);
      timer = null;
      if (item.typed === undefined || item.typed === item.sent) return;
      item.sent = item.typed;
      item.answer = item.typed.trim() === "" ? null : item.typed;
      save(item);
      refreshCheckButton(item);
    };
    input.addEventListener("input", () => {
      item.typed = input.value;
      clearTimeout(timer);
      timer = setTimeout(send, NUMERIC_PAUSE_MS);
    });
    input.addEventListener("change", send);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") send();
    });
    return wrap;
  }

  function numericNote(item, note) {
    if (item.refused) {
      note.textContent = item.refused;
    } else if (item.readAs) {
      note.textContent = "Saved as " + item.readAs + (item.unit ? " " + item.unit : "") + ".";
    } else {
      note.textContent = "";
    }
  }

  // Called with every answer-save result: a numeric item keeps the number the server read
  // (unless the candidate has typed again since), or shows why its text was refused.
  function numericSettled(item, result, sent) {
    if (item.type !== "numeric" || !result) return;
    if (result.ok) {
      item.refused = null;
      item.accepted = result.data.answer;
      if (item.answer === sent) {
        item.answer = result.data.answer;
        item.readAs = numericText(result.data.answer);
      }
    } else if (result.status === 422) {
      // the server kept the answer it had: count that one, and say why this text was refused
      const why = detail(result, "this is not a number").replace(/^question \d+: /, "");
      item.refused = why.charAt(0).toUpperCase() + why.slice(1);
      item.readAs = null;
      if (item.answer === sent) item.answer = item.accepted; // #save-announce says why
    } else {
      return;
    }
    renderNavigator();
    if (items[current] !== item || !$("num-" + item.position)) return;
    const input = $("num-" + item.position);
    const note = $("num-" + item.position + "-note");
    input.setAttribute("aria-invalid", item.refused ? "true" : "false");
    note.className = item.refused ? "error" : "hint";
    numericNote(item, note);
    refreshCheckButton(item);
  }

  // --- practice mode -----------------------------------------------------------------------

  function refreshCheckButton(item) {
    const button = $("check");
    if (button) button.disabled = item.locked || !isAnswered(item);
  }

  function practiceCheck(item) {
    const box = el("div", { class: "practice" });
    const feedback = el("div", { id: "feedback", class: "feedback", role: "status" });
    const button = el("button", {
      type: "button",
      id: "check",
      text: "Check answer",
      disabled: item.locked || !isAnswered(item),
      onclick: async () => {
        button.disabled = true;
        await settle(15000);
        let result = null;
        try {
          result = await call("POST", api + "/responses/" + item.position + "/check");
        } catch (_err) {
          result = null;
        }
        if (!result || !result.ok) {
          feedback.textContent = detail(result, "Could not check the answer: no connection. Try again.");
          button.disabled = false;
          return;
        }
        checks.set(item.position, result.data);
        item.locked = true;
        renderQuestion();
        $("feedback").focus();
      },
    });
    box.append(button, feedback);
    const verdict = checks.get(item.position);
    if (verdict) {
      feedback.setAttribute("tabindex", "-1");
      feedback.className = "feedback " + (verdict.correct ? "right" : "wrong");
      feedback.append(
        el("p", { class: "verdict", text: verdict.correct ? "Correct." : "Not correct." }),
      );
      if (item.type === "numeric" && verdict.points > 0 && verdict.points < 1) {
        feedback.firstChild.textContent = "Close: " + verdict.points + " of 1 point.";
      }
      if (verdict.feedback === "full" && item.type === "numeric") {
        feedback.append(el("p", { text: "Answer: " + numericKeyText(verdict.key, item.unit) }));
        if (verdict.mistake) feedback.append(el("p", { class: "text", text: verdict.mistake }));
        if (verdict.rationales && verdict.rationales.key) {
          feedback.append(el("p", { class: "text", text: verdict.rationales.key }));
        }
        feedback.append(el("p", { class: "text", text: verdict.explanation }));
      } else if (verdict.feedback === "full") {
        const key = Array.isArray(verdict.key)
          ? verdict.key.join(item.type === "ordering" ? " \u2192 " : ", ")
          : Object.entries(verdict.key).map(([p, c]) => p + ": " + c).join(", ");
        feedback.append(
          el("p", { text: "Answer: " + key }),
          el("p", { class: "text", text: verdict.explanation }),
        );
      } else {
        // the review policy keeps the answer back; say so rather than show nothing
        feedback.append(el("p", { class: "text", text: verdict.feedback_note + "." }));
      }
    } else if (item.locked) {
      feedback.textContent = "This answer was checked and is locked.";
    }
    return box;
  }

  // --- review and submit -------------------------------------------------------------------

  function showQuestions() {
    $("review").hidden = true;
    $("question").hidden = false;
    $("controls").hidden = false;
    renderAdaptive();
  }

  function chip(item) {
    return el(
      "li",
      {},
      el("button", {
        type: "button",
        class: "secondary small",
        text: "Question " + item.position,
        onclick: () => go(item.position - 1),
      }),
    );
  }

  function showReview() {
    const unanswered = items.filter((i) => !isAnswered(i));
    const flagged = items.filter((i) => i.flagged);
    $("review-summary").textContent =
      items.length - unanswered.length + " of " + items.length + " questions answered; " + flagged.length + " flagged.";
    const u = $("review-unanswered");
    const f = $("review-flagged");
    u.replaceChildren(...unanswered.map(chip));
    f.replaceChildren(...flagged.map(chip));
    if (!unanswered.length) u.append(el("li", { class: "none", text: "None" }));
    if (!flagged.length) f.append(el("li", { class: "none", text: "None" }));
    $("question").hidden = true;
    $("controls").hidden = true;
    if (adaptive) $("adaptive-done").hidden = true;
    $("review").hidden = false;
    $("review-heading").focus();
  }

  function confirmSubmit() {
    const unanswered = items.filter((i) => !isAnswered(i)).length;
    $("confirm-text").textContent =
      (unanswered
        ? unanswered + (unanswered === 1 ? " question is" : " questions are") + " unanswered. "
        : "Every question is answered. ") + "After submitting you cannot change your answers.";
    $("confirm").showModal();
    $("confirm-cancel").focus();
  }

  async function submit(reason) {
    if (submitting) return;
    submitting = true;
    const box = $("save-status");
    await settle(reason === "time" ? 5000 : 15000);
    box.dataset.state = "submitting";
    box.textContent = reason === "time" ? "Time is up: submitting\u2026" : "Submitting\u2026";
    for (let tries = 0; tries < 20; tries += 1) {
      let result = null;
      try {
        result = await call("POST", api + "/submit");
      } catch (_err) {
        result = null;
      }
      if (result && (result.ok || result.status === 409 || result.status === 404)) break;
      if (result && result.status >= 400 && result.status < 500) {
        box.dataset.state = "error";
        box.textContent = "Not submitted: " + detail(result, "the server refused");
        submitting = false;
        return;
      }
      box.dataset.state = "retrying";
      box.textContent = "Not submitted yet: no connection, retrying\u2026";
      await sleep(1500);
    }
    closed = true;
    location.assign(resultUrl);
  }

  function timeIsUp(message) {
    if (closed) return;
    closed = true; // no more edits; saves already made still finish before the submit
    const alert = $("time-alert");
    alert.hidden = false;
    alert.textContent = message;
    announce(message, "time-announce");
    if (items.length) renderQuestion();
    submit("time");
  }

  // --- countdown ---------------------------------------------------------------------------

  function clock(seconds) {
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(s).padStart(2, "0");
  }

  // The warning to give now, if any: a moment of WARNINGS crossed since the last tick; at the
  // first tick, only the nearest moment already well past (a page opened or reloaded late says
  // "Under 5 minutes left.", a fresh 10-minute exam says nothing). One message at a time.
  function timeWarning(left) {
    if (left <= 0) return null;
    let found = null;
    for (const [limit, message] of WARNINGS) {
      if (warned.has(limit) || left > limit) continue;
      warned.add(limit);
      if (lastLeft !== null) found = message; // crossed while the page was open
      else if ((limit - left) * 1000 >= LATE_MS) found = "Under " + message;
    }
    return found;
  }

  function tick() {
    if (deadlineMs === null) return;
    const left = Math.max(0, Math.ceil((deadlineMs - (Date.now() + offsetMs)) / 1000));
    const timer = $("timer");
    timer.textContent = clock(left);
    const box = $("timer-box");
    box.classList.toggle("warning", left <= 300);
    box.classList.toggle("urgent", left <= 60);
    const message = timeWarning(left);
    if (message) {
      const alert = $("time-alert");
      alert.hidden = false;
      alert.textContent = message;
      announce(message, "time-announce");
    }
    lastLeft = left;
    if (left <= 0 && !submitting && !readonly) {
      timeIsUp("Time is up. Your answers are being submitted.");
      return;
    }
    setTimeout(tick, 250);
  }

  // --- start -------------------------------------------------------------------------------

  async function load() {
    const sent = Date.now();
    let result = null;
    try {
      result = await call("GET", api);
    } catch (_err) {
      $("question").textContent = "No connection: retrying\u2026";
      setTimeout(load, 2000);
      return;
    }
    const received = Date.now();
    if (!result.ok) {
      $("question").textContent = detail(result, "The exam could not be loaded; reload the page.");
      return;
    }
    const attempt = result.data;
    if (attempt.status !== "in_progress") {
      location.replace(resultUrl);
      return;
    }
    offsetMs = Date.parse(attempt.server_time) - (sent + received) / 2;
    deadlineMs = attempt.deadline ? Date.parse(attempt.deadline) : null;
    items = attempt.items;
    progress = attempt.adaptive;
    renderAdaptive();
    const fromHash = /^#q(\d+)$/.exec(location.hash);
    const start = fromHash ? Number(fromHash[1]) - 1 : 0;
    current = Math.max(0, Math.min(items.length - 1, start));
    go(current, false);
    if (deadlineMs !== null) {
      $("timer-box").hidden = false;
      tick();
    }
  }

  $("prev").addEventListener("click", () => go(current - 1));
  $("next").addEventListener("click", () => {
    if (adaptive && current === items.length - 1) fetchNext();
    else go(current + 1);
  });
  if (!readonly) {
    $("to-review").addEventListener("click", showReview);
    $("back-to-questions").addEventListener("click", () => go(current));
    $("submit").addEventListener("click", confirmSubmit);
    if (adaptive) $("adaptive-submit").addEventListener("click", showReview);
    $("confirm-cancel").addEventListener("click", () => $("confirm").close());
    // Escape or Cancel: focus goes back to the button that opened the dialog
    $("confirm").addEventListener("close", () => {
      if (!submitting) $("submit").focus();
    });
    // Tab wraps around inside the dialog instead of leaving for the browser's own controls
    $("confirm").addEventListener("keydown", (event) => {
      if (event.key !== "Tab") return;
      const buttons = Array.from($("confirm").querySelectorAll("button:not(:disabled)"));
      const first = buttons[0];
      const last = buttons[buttons.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    });
    $("confirm-submit").addEventListener("click", () => {
      $("confirm").close();
      submit("user");
    });
  }
  load();
})();
