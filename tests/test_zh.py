"""The Chinese edition (issue 29), on the committed files only: no Chinese notebook is executed.

- every English notebook's translation (notebooks/zh/translations/NN.json) is complete, current (the hashes) and
  keeps the English cells' numbers, LaTeX, code and the glossary's terms; its Chinese notebook is its build;
- the machinery catches each kind of problem (small notebooks and translations made here);
- the course's messages exist in Chinese, and start(lang="zh") switches them;
- figures draw Chinese characters from a font that has them.
"""

import json
import re
import shutil
import string
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from lmutils import course
from lmutils.course import i18n, notebook, slides, zh

ROOT = Path(__file__).resolve().parents[1]
NUMBERS = zh.numbers()

# Notebooks whose translation has not landed yet: their tests are expected failures (xfail, shown in the summary),
# never skipped. The lead empties this set as the translations are merged; a listed notebook that passes fails.
NOT_YET: set[str] = set()  # notebooks whose translation is not merged yet (empty: every notebook has one)


def not_yet(nn: str, problems: list[str]) -> None:
    if nn in NOT_YET:
        assert problems, f"{nn} is translated and built: remove it from NOT_YET in tests/test_zh.py"
        pytest.xfail(f"{nn} is not translated yet (NOT_YET): {len(problems)} problem(s), e.g. {problems[0]}")


# --- the committed Chinese edition ----------------------------------------------------------------------------

@pytest.mark.parametrize("nn", NUMBERS)
def test_the_translation_is_complete_current_and_faithful_in_form(nn):
    problems = zh.problems(nn)
    not_yet(nn, problems)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("nn", NUMBERS)
def test_the_chinese_notebook_is_its_build(nn):
    """So its code cells and outputs are the English notebook's, and its prose the current translation."""
    path, built = zh.ZH / zh.english_path(nn).name, None
    build_it = f"run `python -m lmutils.course translate-build {nn}`"
    problems = [] if path.exists() else [f"no notebooks/zh/{path.name}: {build_it}"]
    if not problems:
        try:
            built = zh.build(nn, write=False)
        except zh.NotTranslated as err:
            problems = [str(err)]
        else:
            if nbformat.read(path, as_version=4) != built:
                problems = [f"{path.name} differs from its build: {build_it}"]
    not_yet(nn, problems)
    assert problems == []
    english = zh.english_path(nn)  # the Chinese notebook keeps the conventions as well as its English one does
    assert notebook.check_notebook(built, path) == notebook.check_notebook(nbformat.read(english, as_version=4),
                                                                           english)


def test_no_chinese_notebook_without_an_english_one():
    english = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert {p.name for p in zh.ZH.glob("*.ipynb")} <= english
    assert {p.stem for p in zh.TRANSLATIONS.glob("*.json")} <= set(NUMBERS)


def test_the_glossary_is_the_course_glossary():
    rows = zh.glossary()
    assert len(rows) >= 40 and (["neuron", "neurons"], "神经元") in rows and (["forget gate"], "遗忘门") in rows
    assert len({zh for _, zh in rows}) == len(rows)


# --- the machinery, on a small notebook made here --------------------------------------------------------------

HEADER_EN = ("# 01 · A neuron\n\n{badge}\n\n**Learning goals**\n- the weights and the bias of one neuron")
HEADER_ZH = "# 01 · 一个神经元\n\n{badge}\n\n**学习目标**\n- 一个神经元的权重和偏置"
CELLS = [  # (English, Chinese): cells of notebook 01, translated for this test
    ("### By hand, in plain Python\n\nThree inputs, three weights, one bias. For $f$ we take the sigmoid "
     "$\\sigma(z) = 1 / (1 + e^{-z})$\n(drawn below, beside tanh and ReLU).",
     "### 手工计算，用纯 Python\n\n三个输入、三个权重、一个偏置。$f$ 取 sigmoid 函数 "
     "$\\sigma(z) = 1 / (1 + e^{-z})$\n（画在下面，旁边是 tanh 和 ReLU）。"),
    ("## What can go wrong\n\n### Shapes: a column vector silently makes a square\n\nWeights of shape `(2, 1)` "
     "instead of `(2,)` give outputs of shape `(100, 1)`.",
     "## 可能出错的地方\n\n### 形状：列向量会悄悄变成方阵\n\n形状为 `(2, 1)` 而不是 `(2,)` 的权重给出形状为 "
     "`(100, 1)` 的输出。"),
    ("## Exercises\n\nThree exercises, each with a checker.", "## 练习\n\n三道练习，每道都有检查器。"),
    ("## Summary\n\nOne neuron: a weighted sum and an activation function.",
     "## 小结\n\n一个神经元：加权求和，再经过一个激活函数。"),
]


@pytest.fixture
def small(tmp_path):
    """tmp/notebooks/01_a_neuron.ipynb (executed, with outputs) and its complete translation."""
    folder = tmp_path / "notebooks"
    (folder / "zh" / "translations").mkdir(parents=True)
    en_path = folder / "01_a_neuron.ipynb"
    cells = [new_markdown_cell(HEADER_EN.format(badge=course.badge(en_path))),
             new_code_cell(course.SETUP_CELL, execution_count=1),
             new_code_cell('from lmutils.course import start\ndevice = start("01", seed=0)', execution_count=2,
                           outputs=[new_output("stream", name="stdout", text="device: cpu\n")])]
    for i, (en, _) in enumerate(CELLS):
        printed = new_output("stream", name="stdout", text=f"{i + 1}\n")
        cells += [new_markdown_cell(en), new_code_cell(f"print({i} + 1)", execution_count=3 + i, outputs=[printed])]
    nb = new_notebook(cells=cells)
    notebook.fix(nb, en_path)
    nbformat.write(nb, en_path)
    md = [c for c in nb.cells if c.cell_type == "markdown"]
    translations = [HEADER_ZH.format(badge=course.badge(en_path))] + [t for _, t in CELLS]
    write_translation(folder, {c.id: {"en": zh.en_hash(c.source), "zh": t} for c, t in zip(md, translations)})
    return folder, en_path


def write_translation(folder: Path, cells: dict, name: str = "01_a_neuron.ipynb") -> None:
    (folder / "zh" / "translations" / "01.json").write_text(
        json.dumps({"notebook": name, "cells": cells}, ensure_ascii=False, indent=1), encoding="utf-8")


def args(folder):
    return dict(notebooks=folder, translations=folder / "zh" / "translations")


def test_en_hash_is_the_translators_hash():
    assert zh.en_hash("# 01 · A single neuron") == __import__("hashlib").sha256(
        "# 01 · A single neuron".encode()).hexdigest()[:12]
    assert len(zh.en_hash("x")) == 12


def test_a_complete_translation_has_no_problems_and_builds(small):
    folder, en_path = small
    assert zh.problems("01", **args(folder)) == []
    built = zh.build("01", **args(folder))
    out = folder / "zh" / en_path.name
    assert nbformat.read(out, as_version=4) == built                      # what the test above compares
    english = nbformat.read(en_path, as_version=4)
    assert [c.id for c in built.cells] == [c.id for c in english.cells]
    assert [c.metadata for c in built.cells] == [c.metadata for c in english.cells]  # slide types kept
    for en, ch in zip(english.cells, built.cells):
        if en.cell_type == "code":
            assert ch.outputs == en.outputs and ch.execution_count == en.execution_count
            assert ch.source == en.source.replace('start("01", seed=0)', 'start("01", seed=0, lang="zh")')
        else:
            assert ch.source != en.source
    assert sum(en.source != ch.source for en, ch in zip(english.cells, built.cells) if en.cell_type == "code") == 1
    header = built.cells[0].source
    assert course.badge(out) in header and "blob/main/notebooks/zh/01_a_neuron.ipynb" in header
    assert course.badge(en_path) not in header
    assert notebook.check_notebook(built, out) == []                      # the zh section names count


def test_check_wants_the_chinese_sections_in_a_chinese_notebook(small):
    folder, en_path = small
    built = zh.build("01", **args(folder), write=False)
    english_in_zh = notebook.check_notebook(nbformat.read(en_path, as_version=4), folder / "zh" / en_path.name)
    assert any("学习目标" in p for p in english_in_zh) and any("'小结'" in p for p in english_in_zh)
    built.cells[-2].source = "## Summary\n\n一个神经元。"
    assert "no '小结' section" in notebook.check_notebook(built, folder / "zh" / en_path.name)


def test_an_edited_english_cell_makes_its_translation_stale_and_the_build_refuses(small):
    folder, en_path = small
    nb = nbformat.read(en_path, as_version=4)
    nb.cells[3].source = nb.cells[3].source.replace("one bias", "one bias b")
    nbformat.write(nb, en_path)
    assert zh.status("01", **args(folder))["stale"] == [nb.cells[3].id]
    problems = zh.problems("01", **args(folder))
    assert problems == [f"{nb.cells[3].id}: stale (English changed: en should be {zh.en_hash(nb.cells[3].source)})"]
    with pytest.raises(zh.NotTranslated, match=rf"1 stale \['{nb.cells[3].id}'\]"):
        zh.build("01", **args(folder))
    assert not (folder / "zh" / en_path.name).exists()


def test_a_missing_cell_and_an_unknown_id_are_reported(small):
    folder, _ = small
    cells = json.loads((folder / "zh" / "translations" / "01.json").read_text(encoding="utf-8"))["cells"]
    first = next(iter(cells))
    cells["nosuchid"] = cells.pop(first)
    write_translation(folder, cells)
    problems = zh.problems("01", **args(folder))
    assert f"{first}: missing" in problems and "nosuchid: no such markdown cell in the English notebook" in problems
    with pytest.raises(zh.NotTranslated, match="1 cell\\(s\\) missing"):
        zh.build("01", **args(folder))


def test_the_wrong_notebook_name_is_reported(small):
    folder, _ = small
    cells = json.loads((folder / "zh" / "translations" / "01.json").read_text(encoding="utf-8"))["cells"]
    write_translation(folder, cells, name="01_other.ipynb")
    assert zh.problems("01", **args(folder)) == ["'notebook' should be '01_a_neuron.ipynb'"]


TERMS = [(zh.term_re(forms), term) for forms, term in zh.glossary()]


@pytest.mark.parametrize("en, bad, kind", [
    ("We train for 1,600 steps at 0.03.", "我们以 0.03 训练 1600 步。", "numbers differ"),
    ("Three inputs.", "3 个输入。", "numbers differ"),                                # a digit the English lacks
    ("The sum $\\sum_i w_i x_i$.", "求和 $\\sum_i w_i x_j$。", "math differ"),
    ("Call `fit(model)` once.", "调用一次 fit(model)。", "code differ"),
    ("```python\nx = 1\n```", "```python\nx = 2\n```", "fences differ"),
    ("The neurons fire.", "这些单元被激活。", "the Chinese must use 神经元"),
    ("Backprop through time.", "沿时间的反传。", "the Chinese must use 反向传播"),
    ("The forget gate decides.", "忘记门决定。", "the Chinese must use 遗忘门"),
    ("# 04 · Recurrent networks", "# 四 · 循环神经网络", "the title must start with '# 04 '"),
])
def test_each_kind_of_violation_is_caught(en, bad, kind):
    problems = zh.cell_problems("c1", en, bad, TERMS)
    assert any(kind in p for p in problems), problems


@pytest.mark.parametrize("en, good", [
    ("We train for 1,600 steps at 0.03, 10⁵ tokens.", "我们以 0.03 训练 1,600 步，共 10⁵ 个词元。"),
    ("The sum $\\sum_i w_i x_i$ over `x`.", "对 `x` 求和 $\\sum_i w_i x_i$。"),
    ("The gradient, see [notebook 02](02_gradient_descent_and_backprop.ipynb).",
     "梯度，见[笔记本 02](02_gradient_descent_and_backprop.ipynb)。"),   # the target: kept, not counted
    ("Glossy lossless words; `loss` in code; $loss$ in LaTeX.", "光滑的无损词；代码里的 `loss`；LaTeX 里的 $loss$。"),
    ("A pre-trained model, then fine-tuning.", "一个预训练的模型，然后微调。"),
])
def test_faithful_translations_pass(en, good):
    assert zh.cell_problems("c1", en, good, TERMS) == []


def test_translate_commands(small, monkeypatch, capsys):
    from lmutils.course import __main__ as cli

    folder, en_path = small
    monkeypatch.setattr(zh, "NOTEBOOKS", folder)
    monkeypatch.setattr(zh, "TRANSLATIONS", folder / "zh" / "translations")
    assert cli.main(["translate-status"]) == 0
    assert re.search(r"^01 +5 +0 +0$", capsys.readouterr().out, re.M)
    assert cli.main(["translate-build", "01"]) == 0 and (folder / "zh" / en_path.name).exists()
    assert cli.main(["translate-status", "77"]) == 1 and "no English notebook numbered 77" in capsys.readouterr().err
    nb = nbformat.read(en_path, as_version=4)
    nb.cells[3].source += " Edited."
    nbformat.write(nb, en_path)
    assert cli.main(["translate-status"]) == 1 and f"stale: {nb.cells[3].id}" in capsys.readouterr().out
    assert cli.main(["translate-build"]) == 1 and "1 stale" in capsys.readouterr().err


# --- pytest and CI never execute the Chinese notebooks ----------------------------------------------------------

def test_nbval_and_ci_run_only_the_english_notebooks(small):
    """pytest (the project's options and conftest.py) collects an English notebook, not its Chinese build."""
    folder, en_path = small
    zh.build("01", **args(folder))
    shutil.copy(ROOT / "conftest.py", folder.parent / "conftest.py")
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "--rootdir", str(folder.parent), "-c", str(ROOT / "pyproject.toml"), str(folder.parent)],
                         cwd=folder.parent, capture_output=True, text=True)
    assert "notebooks/01_a_neuron.ipynb::Cell 0" in out.stdout, out.stdout + out.stderr
    assert (folder / "zh" / "01_a_neuron.ipynb").exists() and "notebooks/zh/" not in out.stdout
    script, makefile = (ROOT / ".ci" / "colab_like.sh").read_text(), (ROOT / "Makefile").read_text()
    assert "notebooks/*/" not in script and "**" not in script and "find " not in script
    assert "execute notebooks/[0-9]*.ipynb" in makefile


def test_make_lab_in_chinese_installs_the_language_pack():
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    out = subprocess.run(["make", "--no-print-directory", "-n", "lab", "LANG=zh"], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "pip install --quiet jupyterlab-language-pack-zh-CN" in out and out.rstrip().endswith("notebooks/zh/")


# --- the course's messages -----------------------------------------------------------------------------------

def fields(text: str) -> set[str]:
    """The named fields of a sentence, those inside a field's format spec included ("{value:{fmt}}")."""
    found = set()
    for _lit, name, spec, _conv in string.Formatter().parse(text):
        if name is not None:
            found.add(name)
            found |= fields(spec or "")
    return found


def test_every_catalogue_sentence_has_its_chinese_with_the_same_fields():
    table = i18n.table("zh")
    missing = [s for s in i18n.catalogue() if s not in table]
    assert not missing, (f"{len(missing)} of {len(i18n.catalogue())} sentences have no Chinese in "
                         f"lmutils/course/locale/zh.json; the first ones:\n" + "\n".join(missing[:20]))
    wrong = [(s, table[s]) for s in i18n.catalogue() if fields(s) != fields(table[s])]
    assert not wrong, "these translations do not have the English sentence's fields:\n" + "\n".join(map(str, wrong))


def test_the_course_messages_of_this_clone_exist_in_chinese():
    """start()'s, record()'s and the widgets' sentences (added with the Chinese edition), whatever the checkers'."""
    table = i18n.table("zh")
    ours = [s for s in i18n.catalogue() if s.startswith(("device:", "{name} = ")) or s in LABELS]
    assert len(ours) == 6 + len(LABELS)
    for s in ours:
        assert s in table and fields(s) == fields(table[s]), s
        assert s == "top-p" or re.search(r"[\u4e00-\u9fff]", table[s]), f"{s!r} -> {table[s]!r} is not Chinese"


from lmutils.course.widgets import LABELS  # noqa: E402


def test_no_translation_is_for_a_sentence_the_course_no_longer_says():
    extra = set(i18n.table("zh")) - set(i18n.catalogue())
    assert not extra, f"zh.json translates sentences no _() says (remove them): {sorted(extra)[:10]}"


@pytest.fixture
def english_after():
    yield
    i18n.set_language("en")


def test_start_in_chinese_then_english(capsys, english_after):
    from lmutils.course.checks import nb01

    leaky = lambda z: torch.where(z > 0, z, 0.01 * z)  # noqa: E731
    course.start("01", seed=0, device="cpu", lang="zh")
    assert capsys.readouterr().out == "设备：cpu\n"
    right, wrong = repr(nb01.leaky_relu(leaky)), repr(nb01.leaky_relu(torch.relu))
    assert right.startswith("✅ 正确！") and wrong.startswith("❌ 还不对：")
    course.start("01", seed=0, device="cpu")
    assert capsys.readouterr().out == "device: cpu\n"
    assert repr(nb01.leaky_relu(leaky)).startswith("✅ Correct!")
    assert repr(nb01.leaky_relu(torch.relu)).startswith("❌ Not yet: that is the plain ReLU")


def test_start_prints_its_line_and_record_its_own_in_chinese(capsys, english_after, monkeypatch):
    from lmutils.course import results

    course.start("02", seed=0, device="cpu", lang="zh")
    assert capsys.readouterr().out.startswith("设备：")
    name, ref = next(iter(results.load("02").items()))
    monkeypatch.delenv("LMUTILS_RESULTS", raising=False)
    results.record(name, ref["value"])
    value, tol = ref["value"], ref["tol"]
    assert capsys.readouterr().out == f"{name} = {value:.4f}（CPU 上的参考值 {value:.4f} ± {tol:.2g}）\n"
    i18n.set_language("en")
    results.record(name, ref["value"])
    printed = capsys.readouterr().out
    assert printed == f"{name} = {ref['value']:.4f} (reference {ref['value']:.4f} ± {ref['tol']:.2g} on CPU)\n"
    assert results.PRINTED.search(printed)  # what stale_references() reads in saved outputs


def test_an_unknown_language_is_refused(english_after):
    with pytest.raises(ValueError, match="'en', 'zh'"):
        course.start("01", device="cpu", lang="fr")


def test_widget_labels_follow_the_language(english_after):
    from lmutils.course.widgets import FigureWidget, slider

    i18n.set_language("zh")
    assert slider(0.5, 0.0, 1.0, description="learning rate η").description == "学习率 η"
    assert slider(1.0, -3.0, 3.0, description="w").description == "w"     # a symbol stays
    import ipywidgets

    box = ipywidgets.Checkbox(value=False, description="causal mask")
    FigureWidget(lambda fig, **v: None, {"causal": box})
    assert box.description == "因果掩码"
    i18n.set_language("en")
    assert slider(0.5, 0.0, 1.0, description="learning rate η").description == "learning rate η"


# --- the CJK font --------------------------------------------------------------------------------------------

def test_the_font_ships_small_with_its_licence():
    from lmutils.course.font import FONT

    assert FONT.exists() and FONT.stat().st_size <= 4e6
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONT.parent / "OFL.txt").read_text(encoding="utf-8")
    assert "make-font" in (ROOT / "data" / "README.md").read_text(encoding="utf-8")


def test_tang_characters_are_drawn_from_a_font_that_has_them():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    from lmutils.course.font import FONT
    from lmutils.course.plot import use_course_style
    from lmutils.data import load_corpus

    use_course_style()
    poems = load_corpus("tang")
    text = "".join(sorted(set(poems) - {"\n"}))
    fig, ax = plt.subplots()
    labels = [ax.text(0, 0, text[i:i + 400]) for i in range(0, len(text), 400)]
    labels.append(ax.set_title("床前明月光，疑是地上霜。"))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fig.canvas.draw()
    assert not [w for w in seen if "missing from font" in str(w.message)]  # "Glyph … missing": a tofu box
    for label in labels[-1:] + labels[:1]:
        fonts = [FT2Font(p) for p in font_manager.fontManager._find_fonts_by_props(label.get_fontproperties())]
        charmaps = [set(f.get_charmap()) for f in fonts]
        for ch in label.get_text():
            assert any(ord(ch) in cm for cm in charmaps), f"no font of {[f.family_name for f in fonts]} has {ch!r}"
    assert fonts[0].family_name == "DejaVu Sans"  # Latin text looks as before
    plt.close(fig)
    cjk = FT2Font(str(FONT)).get_charmap()
    assert [ch for ch in text if ord(ch) not in cjk] == []


def test_a_character_outside_the_subset_falls_back_without_an_error():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ft2font import FT2Font

    from lmutils.course.font import FONT
    from lmutils.course.plot import use_course_style

    use_course_style()
    rare = "\U00020000"  # 𠀀, CJK Extension B: in no font here
    assert ord(rare) not in FT2Font(str(FONT)).get_charmap()
    fig, ax = plt.subplots()
    ax.set_title(f"月{rare}")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fig.canvas.draw()
    assert all("missing from font" in str(w.message) for w in seen)
    plt.close(fig)


# --- slides and README -----------------------------------------------------------------------------------------

def test_slides_build_chinese_decks_with_a_language_switch(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# 98 · A lesson\n\n**Learning goals**"),
                             new_markdown_cell("## A slide\n$y = w x$")])
    (tmp_path / "zh").mkdir()
    nbformat.write(nb, tmp_path / "98_a_lesson.ipynb")
    nb.cells = [new_markdown_cell("# 98 · 一课\n\n**学习目标**"), new_markdown_cell("## 一张幻灯片\n$y = w x$")]
    nbformat.write(nb, tmp_path / "zh" / "98_a_lesson.ipynb")
    out = tmp_path / "slides"
    assert slides.main([str(tmp_path / "98_a_lesson.ipynb"), str(tmp_path / "zh" / "98_a_lesson.ipynb"),
                        "--out", str(out)]) == 0
    assert (out / "98_a_lesson.html").exists() and (out / "zh" / "98_a_lesson.html").exists()
    en, zh_index = ((out / "index.html").read_text(encoding="utf-8"),
                    (out / "zh" / "index.html").read_text(encoding="utf-8"))
    assert '<b>English</b> | <a href="zh/index.html" lang="zh">中文</a>' in en and 'href="98_a_lesson.html"' in en
    assert '<a href="../index.html" lang="en">English</a> | <b>中文</b>' in zh_index
    assert '<html lang="zh">' in zh_index and "98 · 一课" in zh_index and "幻灯片" in zh_index
    assert "一张幻灯片" in (out / "zh" / "98_a_lesson.html").read_text(encoding="utf-8")
    assert "$(wildcard notebooks/zh/[0-9]*.ipynb) --out build/slides" in (ROOT / "Makefile").read_text()


def test_english_decks_alone_have_no_switch(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# 98 · A lesson")])
    nbformat.write(nb, tmp_path / "98_a_lesson.ipynb")
    assert slides.main([str(tmp_path / "98_a_lesson.ipynb"), "--out", str(tmp_path / "s")]) == 0
    assert "中文" not in (tmp_path / "s" / "index.html").read_text(encoding="utf-8")


def test_the_readmes_link_each_other_and_the_chinese_notebooks():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    readme_zh = (ROOT / "README.zh.md").read_text(encoding="utf-8")
    assert "中文版: [README.zh.md](README.zh.md)" in "\n".join(readme.splitlines()[:5])
    assert "[English](README.md)" in "\n".join(readme_zh.splitlines()[:5])
    for nn in NUMBERS:
        name = zh.english_path(nn).name
        assert f"(notebooks/zh/{name})" in readme and f"(notebooks/zh/{name})" in readme_zh
        assert course.badge(zh.ZH / name) in readme_zh
    for command in ("make lab", "make test", "translate-status", "translate-build", "translations/NN.json"):
        assert command in readme_zh and command in readme
    first_block = re.search(r"```bash\n(.*?)```", readme_zh, re.S).group(1)
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [["make", "lab"], ["make", "test"]]
