//! What a task does (given): count words, sleep, or crash on purpose.

use std::ops::Range;
use std::time::Duration;

use crate::wire::Spec;

/// How a worker that crashes on purpose exits.
pub const CRASH_EXIT: i32 = 3;

// ANCHOR: chunks
/// Cuts `text` into `n` chunks at whitespace: chunk `i` holds words
/// `i·W/n` to `(i+1)·W/n` of its `W` words, so the chunks' word counts add
/// up to `text.split_whitespace().count()`. With more chunks than words,
/// some chunks are empty.
pub fn chunks(text: &str, n: u32) -> Vec<Range<usize>> {
    let words: Vec<Range<usize>> = text
        .split_whitespace()
        .map(|w| {
            let start = w.as_ptr() as usize - text.as_ptr() as usize;
            start..start + w.len()
        })
        .collect();
    let n = n.max(1) as usize;
    (0..n)
        .map(|i| {
            let first = i * words.len() / n;
            let end = (i + 1) * words.len() / n;
            if first == end {
                0..0
            } else {
                words[first].start..words[end - 1].end
            }
        })
        .collect()
}
// ANCHOR_END: chunks

// ANCHOR: run_task
/// Runs one task and returns its result. `attempt` is the lease's attempt
/// number, which decides whether a `crash` task crashes.
pub async fn run_task(spec: &Spec, attempt: u32) -> u64 {
    match spec {
        Spec::Words { text, ms } => {
            if *ms > 0 {
                tokio::time::sleep(Duration::from_millis(u64::from(*ms))).await;
            }
            text.split_whitespace().count() as u64
        }
        Spec::Sleep { ms } => {
            tokio::time::sleep(Duration::from_millis(u64::from(*ms))).await;
            0
        }
        Spec::Crash { ms, crashes } => {
            if attempt <= *crashes {
                // Halfway through, the process dies: no result, no goodbye
                // — the coordinator sees the connection end (EOF).
                tokio::time::sleep(Duration::from_millis(u64::from(*ms) / 2)).await;
                eprintln!("worker: crashing on purpose (attempt {attempt} of a crash task)");
                std::process::exit(CRASH_EXIT);
            }
            tokio::time::sleep(Duration::from_millis(u64::from(*ms))).await;
            0
        }
    }
}
// ANCHOR_END: run_task

/// The text `submit` counts when given no `--text`: the opening of Jerome K.
/// Jerome's "Three Men in a Boat" (1889), in the public domain.
pub const BUILT_IN_TEXT: &str = "\
There were four of us - George, and William Samuel Harris, and myself, and
Montmorency. We were sitting in my room, smoking, and talking about how bad we
were - bad from a medical point of view I mean, of course.

We were all feeling seedy, and we were getting quite nervous about it. Harris
said he felt such extraordinary fits of giddiness come over him at times, that
he hardly knew what he was doing; and then George said that he had fits of
giddiness too, and hardly knew what he was doing. With me, it was my liver that
was out of order. I knew it was my liver that was out of order, because I had
just been reading a patent liver-pill circular, in which were detailed the
various symptoms by which a man could tell when his liver was out of order. I
had them all.

It is a most extraordinary thing, but I never read a patent medicine
advertisement without being impelled to the conclusion that I am suffering from
the particular disease therein dealt with in its most virulent form. The
diagnosis seems in every case to correspond exactly with all the sensations
that I have ever felt.

I remember going to the British Museum one day to read up the treatment for
some slight ailment of which I had a touch - hay fever, I fancy it was. I got
down the book, and read all I came to read; and then, in an unthinking moment,
I idly turned the leaves, and began to indolently study diseases, generally. I
forget which was the first distemper I plunged into - some fearful, devastating
scourge, I know - and, before I had glanced half down the list of premonitory
symptoms, it was borne in upon me that I had fairly got it.

I sat for a while, frozen with horror; and then, in the listlessness of
despair, I again turned over the pages. I came to typhoid fever - read the
symptoms - discovered that I had typhoid fever, must have had it for months
without knowing it - wondered what else I had got; turned up St. Vitus's Dance
- found, as I expected, that I had that too, - began to get interested in my
case, and determined to sift it to the bottom, and so started alphabetically -
read up ague, and learnt that I was sickening for it, and that the acute stage
would commence in about another fortnight. Bright's disease, I was relieved to
find, I had only in a modified form, and, so far as that was concerned, I might
live for years. Cholera I had, with severe complications; and diphtheria I
seemed to have been born with. I plodded conscientiously through the
twenty-six letters, and the only malady I could conclude I had not got was
housemaid's knee.

I felt rather hurt about this at first; it seemed somehow to be a sort of
slight. Why hadn't I got housemaid's knee? Why this invidious reservation?
After a while, however, less grasping feelings prevailed. I reflected that I
had every other known malady in the pharmacology, and I grew less selfish, and
determined to do without housemaid's knee. Gout, in its most malignant stage,
it would appear, had seized me without my being aware of it; and zymosis I had
evidently been suffering with from boyhood. There were no more diseases after
zymosis, so I concluded there was nothing else the matter with me.
";
