// Typeset the equations, start reveal.js, and make every slide fit: a slide taller than the screen, or with
// code wider than it, is scaled down (to MIN_SCALE at most) and scrolls beyond that.
(function () {
  const WIDTH = 1280, HEIGHT = 720, MIN_SCALE = 0.55;

  function fit(slide) {
    if (!slide || slide.querySelector("section")) return;  // a vertical stack: fit its slides one by one
    slide.style.zoom = 1;
    slide.style.height = "";
    slide.classList.remove("scrolls");
    const height = slide.scrollHeight;
    const overflow = Math.max(0, ...[...slide.querySelectorAll("pre")].map((p) => p.scrollWidth - p.clientWidth));
    if (height <= HEIGHT && !overflow) return;
    const scale = Math.max(MIN_SCALE, Math.min(HEIGHT / height, WIDTH / (WIDTH + overflow)));
    slide.style.zoom = scale;
    if (height * scale > HEIGHT) {
      slide.classList.add("scrolls");
      slide.style.height = `${HEIGHT / scale}px`;  // zoom shrinks heights too: fill the screen
    }
    Reveal.layout();
  }

  window.addEventListener("load", async () => {
    renderMathInElement(document.querySelector(".reveal .slides"), {
      delimiters: [
        { left: "$$", right: "$$", display: true },
        { left: "\\[", right: "\\]", display: true },
        { left: "\\begin{equation}", right: "\\end{equation}", display: true },
        { left: "\\begin{align}", right: "\\end{align}", display: true },
        { left: "$", right: "$", display: false },
        { left: "\\(", right: "\\)", display: false },
      ],
      throwOnError: false,
    });
    await document.fonts.ready;
    await Reveal.initialize({
      width: WIDTH, height: HEIGHT, margin: 0.04, center: false, hash: true,
      controls: true, progress: true, slideNumber: "c/t", transition: "fade", transitionSpeed: "fast",
    });
    fit(Reveal.getCurrentSlide());
    Reveal.on("slidechanged", (event) => fit(event.currentSlide));
    document.body.dataset.slidesReady = "true";  // for tests
  });
})();
