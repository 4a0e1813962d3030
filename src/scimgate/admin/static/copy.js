// Copy buttons for the SCIM URL and a new token: what the admin pastes into the IdP, copied whole (a drag-select
// on a phone misses characters; a truncated token is the most common setup error). No inline script: the page's
// Content-Security-Policy allows scripts from this origin only.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.textContent.trim();
  try {
    await navigator.clipboard.writeText(text);
  } catch (error) {
    // No clipboard API (an insecure origin, or permission refused): select the text and copy the selection.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    if (!document.execCommand("copy")) {
      button.textContent = "Select and copy";
      return;
    }
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
});
