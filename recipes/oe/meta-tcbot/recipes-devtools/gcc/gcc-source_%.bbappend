# tcbot: only for recipes/oe/toolchain-gcc.yml.tmpl, which builds every gcc
# recipe from a git revision (BASEURI) and sets TCBOT_GCC_BASEVER = "1".
#
# The gcc recipes install and package gcc under lib/gcc/<triplet>/${BINV}
# (13.4.0 in scarthgap), while gcc takes that directory name from
# gcc/BASE-VER, which on a release branch between releases says the next
# version (13.4.1). After patching, write BINV into BASE-VER so the two
# agree; the compiler under test then calls itself ${BINV}.
#
# Without TCBOT_GCC_BASEVER nothing changes, not even a task signature: the
# function joins do_patch only when asked, so ordinary builds keep sharing
# gcc-source's sstate.

TCBOT_GCC_BASEVER ??= "0"

python tcbot_gcc_basever() {
    path = os.path.join(d.getVar('S'), 'gcc', 'BASE-VER')
    binv = d.getVar('BINV')
    with open(path) as f:
        old = f.read().strip()
    if old != binv:
        bb.note("tcbot: gcc/BASE-VER %s -> %s, the BINV of the gcc recipes" % (old, binv))
        with open(path, 'w') as f:
            f.write(binv + '\n')
}

python () {
    if d.getVar('TCBOT_GCC_BASEVER') == '1':
        d.appendVarFlag('do_patch', 'postfuncs', ' tcbot_gcc_basever')
}
