# install.mk: make install and make uninstall, included by the Makefile.
# GNU conventions: PREFIX, DESTDIR (a staging root, prepended to every path
# written, never compiled in), BINDIR, LIBDIR, INCLUDEDIR, DATADIR, MANDIR.
#   make install PREFIX=$HOME/.local
#   make install DESTDIR=/tmp/stage PREFIX=/usr      (a package's tree)
# The installed aec finds aec.h and libaecrt.a relative to itself
# (compiler/home.c): the Makefile compiles in the paths from BINDIR to
# INCLUDEDIR/aec and to LIBDIR, never an absolute one, so a moved prefix works.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
INSTALL    ?= install

REL_INCLUDE = $(shell realpath -m --relative-to=$(BINDIR) $(INCLUDEDIR)/aec)
REL_LIB     = $(shell realpath -m --relative-to=$(BINDIR) $(LIBDIR))

# What install writes, as SOURCE:DESTINATION (below $(DESTDIR)).
INSTALL_DATA = \
    runtime/aec.h:$(INCLUDEDIR)/aec/aec.h \
    $(B)/libaecrt.a:$(LIBDIR)/libaecrt.a \
    $(B)/install/aec.pc:$(LIBDIR)/pkgconfig/aec.pc \
    man/aec.1:$(MANDIR)/man1/aec.1 \
    man/aec-model.1:$(MANDIR)/man1/aec-model.1 \
    man/aec-language.5:$(MANDIR)/man5/aec-language.5 \
    editors/vim/syntax/ae.vim:$(DATADIR)/vim/vimfiles/syntax/ae.vim \
    editors/vim/ftdetect/ae.vim:$(DATADIR)/vim/vimfiles/ftdetect/ae.vim \
    editors/vscode/package.json:$(DATADIR)/aec/editors/vscode/package.json \
    editors/vscode/language-configuration.json:$(DATADIR)/aec/editors/vscode/language-configuration.json \
    editors/vscode/syntaxes/ae.tmLanguage.json:$(DATADIR)/aec/editors/vscode/syntaxes/ae.tmLanguage.json \
    editors/bash/aec:$(DATADIR)/bash-completion/completions/aec
# Folders that are aec's alone: uninstall removes them once empty.
INSTALL_OWN_DIRS = $(INCLUDEDIR)/aec $(DATADIR)/aec/editors/vscode/syntaxes $(DATADIR)/aec/editors/vscode \
    $(DATADIR)/aec/editors $(DATADIR)/aec

# The installed aec: the build's objects, with home.c compiled for the
# layout of this install (its relative paths change with BINDIR, LIBDIR
# and INCLUDEDIR, so it is made again on every install).
$(B)/install/aec: $(CC_OBJ) compiler/home.c compiler/home.h FORCE
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(VERSION_DEFS) -DAEC_INCLUDE_REL='"$(REL_INCLUDE)"' -DAEC_LIB_REL='"$(REL_LIB)"' \
	    -Icompiler -c compiler/home.c -o $(B)/install/home.o
	$(CC) $(OPT) -o $@ $(filter-out $(B)/cc/home.o,$(CC_OBJ)) $(B)/install/home.o -lm

$(B)/install/aec.pc: aec.pc.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@

install: $(B)/install/aec $(B)/libaecrt.a $(MPI_LIB) $(B)/install/aec.pc
	$(INSTALL) -D -m 755 $(B)/install/aec $(DESTDIR)$(BINDIR)/aec
	$(if $(MPI_LIB),$(INSTALL) -D -m 644 $(MPI_LIB) $(DESTDIR)$(LIBDIR)/libaecrt-mpi.a)
	@set -e; for pair in $(INSTALL_DATA); do \
	    src=$${pair%%:*}; dst=$(DESTDIR)$${pair#*:}; \
	    echo "$(INSTALL) -D -m 644 $$src $$dst"; $(INSTALL) -D -m 644 $$src $$dst; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/aec $(DESTDIR)$(LIBDIR)/libaecrt-mpi.a
	@for pair in $(INSTALL_DATA); do echo "rm -f $(DESTDIR)$${pair#*:}"; rm -f $(DESTDIR)$${pair#*:}; done
	@for d in $(INSTALL_OWN_DIRS); do [ ! -d $(DESTDIR)$$d ] || rmdir --ignore-fail-on-non-empty $(DESTDIR)$$d; done

FORCE:
.PHONY: install uninstall FORCE
